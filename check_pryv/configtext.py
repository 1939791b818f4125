"""Configuration printed for pasting, generated: the check_pryv_core command line, Icinga 2 and Nagios objects.

check_pryv_setup's lines to paste and the sandbox's --print-config both come from here, every value through the
writer of its language, never through `%s` into a template:

- an Icinga 2 string reads back as the same text: `\\`, `"` and unprintable characters escaped (octal for
  those without a letter), non-ASCII as UTF-8 (the lexer has no `\\u`), and `$` doubled: custom variables are
  macro strings, where a lone `$` is refused and `$$` reads `$` (a `Macro` is written as is);
- an Icinga 2 object name is not empty and holds no `!` (which joins host and service names);
- a Nagios value holds none of what its parser reads otherwise (`!` between check_command's arguments, `;`
  a comment, `$` a macro, a line break): such a value is refused, and the message says which and why.
"""
import os
import re
import shlex

from check_pryv.options import WRITE_STREAM
from check_pryv.output import one_line

# Debian's example hosts (conf.d/hosts.conf): the stock notification apply rules alert for a host that has it.
NOTIFICATION = (("notification", "mail"), {"groups": ["icingaadmins"]})
# The platform's parts that apps use, each a service of its own: (its host variable in pryv-services.conf, the
# plugin, the option, its name in the Nagios example).
PARTS = (("pryv_auth_request", "register", "--auth-request", "Pryv app sign-in"),
         ("pryv_series", "core", "--series", "Pryv HF series"),
         ("pryv_attachment", "core", "--attachment", "Pryv attachments"),
         ("pryv_notifications", "core", "--notifications", "Pryv notifications"))


class Unwritable(ValueError):
    """A value that the configuration language cannot hold; the message says which and why."""


class Macro(str):
    """An Icinga 2 runtime macro, written as is: `Macro("$address$")`."""


# --- Icinga 2 ----------------------------------------------------------------------------------------------

_ICINGA_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def icinga_string(text):
    """An Icinga 2 string literal of `text` (a file name's undecodable bytes included, as octal escapes)."""
    out = []
    for char in text:
        if char in _ICINGA_ESCAPES:
            out.append(_ICINGA_ESCAPES[char])
        elif char == "$" and not isinstance(text, Macro):
            out.append("$$")
        elif not char.isprintable():
            out.append("".join("\\%03o" % byte for byte in os.fsencode(char)))
        else:
            out.append(char)
    return '"%s"' % "".join(out)


def icinga_value(value):
    """An Icinga 2 literal of a bool, an int, a string, a list or a dictionary of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return icinga_string(value)
    if isinstance(value, list):
        return "[ %s ]" % ", ".join(icinga_value(item) for item in value)
    if isinstance(value, dict):
        return "{ %s }" % ", ".join("%s = %s" % (key if _IDENTIFIER.fullmatch(key) else icinga_string(key),
                                                 icinga_value(item)) for key, item in value.items())
    raise TypeError("no Icinga 2 literal for %r" % (value,))


def icinga_var(name, value):
    """`vars.NAME = VALUE`; a (NAME, KEY) pair sets one key of a dictionary: `vars.NAME[KEY] = VALUE`."""
    if isinstance(name, tuple):
        name = "%s[%s]" % (name[0], icinga_string(name[1]))
    return "vars.%s = %s" % (name, icinga_value(value))


def icinga_name_problem(name):
    """Why Icinga 2 refuses `name` as an object name (None when it takes it)."""
    if not name:
        return "an Icinga 2 object name may not be empty"
    if "!" in name:
        return "an Icinga 2 object name may not contain '!'"
    return None


def icinga_host(name, variables, address="127.0.0.1"):
    """An `object Host` block importing generic-host, with one line per (name, value) of `variables`."""
    problem = icinga_name_problem(name)
    if problem:
        raise Unwritable("host %s: %s" % (icinga_string(name), problem))
    lines = ["object Host %s {" % icinga_string(name), '\timport "generic-host"',
             "\taddress = %s" % icinga_string(address), ""]
    return "\n".join(lines + ["\t" + icinga_var(key, value) for key, value in variables] + ["}"])


def platform_vars(pairs):
    """The Icinga 2 variables of (option, value) pairs: `--ca-cert` sets vars.pryv_ca_cert, a flag `true`."""
    return [icinga_var("pryv_" + option[2:].replace("-", "_"), value) for option, value in pairs]


# --- Nagios ------------------------------------------------------------------------------------------------

NAGIOS_SPECIAL = {";": "starts a comment", "$": "starts a macro"}
NAGIOS_ARGUMENT_SPECIAL = {"!": "separates the arguments of check_command", **NAGIOS_SPECIAL}


def nagios_value(text, special=NAGIOS_ARGUMENT_SPECIAL):
    """`text` unchanged when Nagios reads it as written; otherwise Unwritable, saying why."""
    for char, meaning in special.items():
        if char in text:
            raise Unwritable("%s holds '%s', which %s in Nagios" % (one_line(text, 200), char, meaning))
    if not text.isprintable():
        raise Unwritable("%s holds a line break or another control character, which Nagios cannot take"
                         % one_line(text, 200))
    return text


def nagios_words(words):
    """Command-line words, quoted for the shell that Nagios runs the command with, checked for Nagios."""
    return nagios_value(" ".join(shlex.quote(str(word)) for word in words))


def nagios_check_command(command, *arguments):
    return "!".join(nagios_value(str(part)) for part in (command, *arguments))


def nagios_define(kind, fields):
    """A `define KIND { ... }` block, its directives aligned; every value checked (a check_command's arguments
    were, by nagios_check_command)."""
    width = max(len(key) for key, _ in fields) + 4
    return "\n".join(["define %s {" % kind] + ["    %s%s" % (key.ljust(width), nagios_value(str(value), NAGIOS_SPECIAL))
                                               for key, value in fields] + ["}"])


# --- check_pryv_setup's lines to paste -----------------------------------------------------------------------

def paste_lines(args, reader):
    """What to paste: every variable the check needs (platform, account, connection), and the token's file or
    where the token went; the token itself is never on screen."""
    icinga = platform_vars(platform_options(args))
    mode = "" if args.domain else "_dnsless"
    if args.token_file:
        path = os.path.abspath(args.token_file)
        return ["# check it now:", core_command(args), "# or every check of the platform at once:",
                core_command(args, "check_pryv_platform"),
                "# Icinga 2, on the Host object; the file readable by %s on every node that runs the check:"
                % reader,
                *icinga, icinga_var("pryv_core_token_file", path), *parts_lines(),
                *nagios_lines("# Nagios, in resource.cfg (mode 600): the token file that nagios/pryv-commands.cfg "
                              "reads, readable by %s" % reader, path, args, mode)]
    return ["# the token went to stdout alone; with it in the environment variable PRYV_ACCESS_TOKEN,",
            "# check it now:", core_command(args), "# or every check of the platform at once:",
            core_command(args, "check_pryv_platform"),
            "# Icinga 2, on the Host object (hide *token* custom variables in Icinga Web 2):",
            *icinga, icinga_var("pryv_core_token", "<the token printed on stdout>"), *parts_lines(),
            *nagios_lines("# Nagios, in resource.cfg (mode 600): a file holding the token, readable by nagios only",
                          "/etc/nagios4/pryv-token", args, mode)]


def parts_lines():
    """The parts' host variables, commented out: each needs its part of the platform (and --notifications
    python-socketio on the node), so the operator chooses; the access made here may write to their stream."""
    return ["# the platform's parts that apps use, a service each (uncomment those this platform runs; they write "
            "to the stream %s):" % WRITE_STREAM] + ["# " + icinga_var(variable, True) for variable, *_ in PARTS]


def nagios_lines(comment, token_file, args, mode):
    """resource.cfg's token file and the service's check_command, then the parts' (commented out, as on the
    Icinga 2 host); or why Nagios could not read them."""
    platform, words = args.domain or args.hostname, option_words(platform_options(args)[1:])
    try:
        return [comment, "$USER11$=%s" % nagios_words([token_file]), "# Nagios, the service's command",
                "check_command " + nagios_check_command("check_pryv_core" + mode, platform, nagios_words(words)),
                "# Nagios, the commands of the parts' services, %s (uncomment those this platform runs; "
                "see nagios/pryv-services.cfg.example):" % ", ".join(name for *_, name in PARTS)] + [
                "# check_command " + nagios_check_command("check_pryv_%s%s" % (plugin, mode), platform,
                                                          nagios_words(words + [option]))
                for _, plugin, option, _ in PARTS]
    except Unwritable as error:
        return ["# Nagios: no lines, as %s: give paths without it" % error]


def platform_options(args):
    """(option, value) of the platform, the account and the connection, as given; True for a flag."""
    pairs = [("--domain", args.domain) if args.domain else ("--hostname", args.hostname),
             ("--username", args.username)]
    pairs += [("--address", args.address)] if args.address else []
    pairs += [("--port", args.port)] if args.port else []
    pairs += [("--scheme", args.scheme)] if args.scheme != "https" else []
    pairs += [("--ca-cert", os.path.abspath(args.ca_cert))] if args.ca_cert else []
    pairs += [("--insecure", True)] if args.insecure else []
    proxy = getattr(args, "proxy", None)  # (host, port), as options.proxy_url gives it
    pairs += [("--proxy", "http://%s:%d" % ("[%s]" % proxy[0] if ":" in proxy[0] else proxy[0], proxy[1]))
              ] if proxy else []
    return pairs


def option_words(pairs):
    return [str(word) for option, value in pairs for word in ([option] if value is True else [option, value])]


def core_command(args, command="check_pryv_core"):
    """check_pryv_core (or check_pryv_platform, every check at once) with the same platform and connection options,
    ready to run."""
    pairs = platform_options(args)
    pairs += [("--token-file", os.path.abspath(args.token_file))] if args.token_file else []
    return " ".join(shlex.quote(word) for word in [command, *option_words(pairs)])


def all_hostings_paste_lines(ready):
    """The commands that check each account now, and the Icinga 2 dictionary that icinga2/pryv-cores.conf reads:
    its keys make the services' names (pryv-core-KEY), so a hosting whose name cannot be in one is keyed by
    its account's name, the hosting's own name kept in the entry and said in a comment."""
    lines = ["# check them now:"] + [core_command(one) for _, one in ready]
    lines.append("# Icinga 2, on the Host object (each file readable by icinga on every node that runs the check):")
    problems = {hosting: service_key_problem(hosting) for hosting, _ in ready}
    while True:  # a key given twice would hide a core: a name that is another hosting's key is keyed by its account
        keys = [one.username if problems[hosting] else hosting for hosting, one in ready]
        twice = [hosting for (hosting, _), key in zip(ready, keys) if keys.count(key) > 1 and not problems[hosting]]
        if not twice:
            break
        problems.update((hosting, "its name is the key of another hosting's services") for hosting in twice)
    for (hosting, one), key in zip(ready, keys):
        shown = one_line(hosting, 60)
        entry = {"username": one.username, "token_file": os.path.abspath(one.token_file)}
        if problems[hosting]:
            lines.append("# hosting %s: its services are pryv-core-%s and pryv-dns-%s, as %s"
                         % (shown, key, key, problems[hosting]))
            entry["hosting"] = shown
        lines.append(icinga_var(("pryv_cores", key), entry))
    return lines


def service_key_problem(hosting):
    """Why a hosting's name cannot end the names of its services (None when it can)."""
    if hosting != one_line(hosting):
        return "its name holds control characters or runs of white space"
    if "$" in hosting:
        return "its name holds '$', which Icinga 2 reads as a macro in the service's variables"
    return icinga_name_problem("pryv-core-" + hosting)
