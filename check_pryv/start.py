"""The commands' entry points: signal handlers first, before the command's module and its libraries load.

Loading requests or nagiosplugin takes tens of milliseconds; a SIGTERM (Icinga's end of a late check) or a
Ctrl-C in that time must still end the command with its one line and its exit code, not silently or with a
KeyboardInterrupt traceback. Only importlib, os and signal are loaded here.
"""
import importlib
import os
import signal

UNKNOWN = 3


def exit_with(line, code):
    """Write `line` (on stdout for a plugin's UNKNOWN, else on stderr) and end the process at once."""
    try:
        os.write(1 if code == UNKNOWN else 2, line.encode())
    except OSError:  # nowhere to say it: the exit code tells
        pass
    os._exit(code)


def _ending(line, code):
    def handler(signum, frame):
        exit_with(line, code)
    return handler


def plugin_signals(service):
    """A plugin ends UNKNOWN on SIGTERM and SIGINT, with one status line."""
    for number, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
        signal.signal(number, _ending("%s UNKNOWN - terminated by %s\n" % (service, name), UNKNOWN))


def setup_signals(prog):
    """check_pryv_setup ends 130 on Ctrl-C and 143 on SIGTERM, as a shell reports them."""
    signal.signal(signal.SIGINT, _ending("%s: error: interrupted\n" % prog, 128 + signal.SIGINT))
    signal.signal(signal.SIGTERM, _ending("%s: error: terminated by SIGTERM\n" % prog, 128 + signal.SIGTERM))


# The plugins' entry points: their service name, and the module whose main() runs them.
PLUGINS = {"dns": ("PRYV_DNS", "check_pryv.check_dns"), "register": ("PRYV_REGISTER", "check_pryv.check_register"),
           "core": ("PRYV_CORE", "check_pryv.check_core"), "platform": ("PRYV_PLATFORM", "check_pryv.check_platform")}


def _plugin(name):
    service, module = PLUGINS[name]
    plugin_signals(service)
    importlib.import_module(module).main()


def dns():
    _plugin("dns")


def register():
    _plugin("register")


def core():
    _plugin("core")


def platform():
    _plugin("platform")


def setup():
    setup_signals("check_pryv_setup")
    from check_pryv.setup.command import main
    main()
