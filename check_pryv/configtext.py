"""The lines check_pryv_setup prints for pasting: the check_pryv_core command, and the Icinga 2 and Nagios
configuration that runs it."""
import json
import os
import shlex


def paste_lines(args, reader):
    """What to paste: every variable the check needs (platform, account, connection), and the token's file or
    where the token went; the token itself is never on screen."""
    icinga = ['vars.pryv_%s = %s' % (option[2:].replace("-", "_"), "true" if value is True else value
                                     if option == "--port" else json.dumps(value))
              for option, value in platform_options(args)]
    mode = "" if args.domain else "_dnsless"
    nagios = "check_command check_pryv_core%s!%s!%s" % (mode, args.domain or args.hostname, " ".join(
        shlex.quote(word) for word in option_words(platform_options(args)[1:])))
    if args.token_file:
        path = os.path.abspath(args.token_file)
        return ["# check it now:", core_command(args),
                "# Icinga 2, on the Host object; the file readable by %s on every node that runs the check:"
                % reader,
                *icinga, 'vars.pryv_core_token_file = "%s"' % path,
                "# Nagios, in resource.cfg (mode 600): the token file that nagios/pryv-commands.cfg reads, "
                "readable by %s" % reader,
                "$USER11$=%s" % path, "# Nagios, the service's command", nagios]
    return ["# the token went to stdout alone; with it in the environment variable PRYV_ACCESS_TOKEN,",
            "# check it now:", core_command(args),
            "# Icinga 2, on the Host object (hide *token* custom variables in Icinga Web 2):",
            *icinga, 'vars.pryv_core_token = "<the token printed on stdout>"',
            "# Nagios, in resource.cfg (mode 600): a file holding the token, readable by nagios only",
            "$USER11$=/etc/nagios4/pryv-token", "# Nagios, the service's command", nagios]


def platform_options(args):
    """(option, value) of the platform, the account and the connection, as given; True for a flag."""
    pairs = [("--domain", args.domain) if args.domain else ("--hostname", args.hostname),
             ("--username", args.username)]
    pairs += [("--address", args.address)] if args.address else []
    pairs += [("--port", args.port)] if args.port else []
    pairs += [("--scheme", args.scheme)] if args.scheme != "https" else []
    pairs += [("--ca-cert", os.path.abspath(args.ca_cert))] if args.ca_cert else []
    pairs += [("--insecure", True)] if args.insecure else []
    return pairs


def option_words(pairs):
    return [str(word) for option, value in pairs for word in ([option] if value is True else [option, value])]


def core_command(args):
    """check_pryv_core with the same platform and connection options, ready to run."""
    pairs = platform_options(args)
    pairs += [("--token-file", os.path.abspath(args.token_file))] if args.token_file else []
    return " ".join(shlex.quote(word) for word in ["check_pryv_core", *option_words(pairs)])


def all_hostings_paste_lines(ready):
    """The commands that check each account now, and the Icinga 2 dictionary that icinga2/pryv-cores.conf reads."""
    lines = ["# check them now:"] + [core_command(one) for _, one in ready]
    lines.append("# Icinga 2, on the Host object (each file readable by icinga on every node that runs the check):")
    for hosting, one in ready:
        lines.append("vars.pryv_cores[%s] = { username = %s, token_file = %s }" % (
            json.dumps(hosting), json.dumps(one.username), json.dumps(os.path.abspath(one.token_file))))
    return lines
