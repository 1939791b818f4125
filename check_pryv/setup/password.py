"""check_pryv_setup's password: --password-file, else PRYV_PASSWORD, else a prompt; never printed."""

import getpass
import os
import sys

from check_pryv import safefile, secret


def read_password(args, parser):
    """(password, prompted): --password-file, else PRYV_PASSWORD, else a prompt on a terminal."""
    if args.password_file:
        try:
            password = safefile.read(args.password_file).split("\n", 1)[0].rstrip("\r")
            source = "--password-file %s" % args.password_file
        except (OSError, UnicodeDecodeError) as error:
            # a path that does not exist may be the password itself, typed in the wrong place: never repeat it
            named = " " + args.password_file if os.path.exists(args.password_file) else ""
            parser.error("cannot read --password-file%s: %s" % (named, getattr(error, "strerror", None) or "not text"))
    elif os.environ.get("PRYV_PASSWORD") is not None:
        password, source = os.environ["PRYV_PASSWORD"], "PRYV_PASSWORD"
    elif sys.stdin is not None and sys.stdin.isatty():  # None: started with stdin closed
        return prompt("Password of %s: " % args.username, parser), True
    else:
        parser.error("no password: give --password-file FILE, set PRYV_PASSWORD, or run it on a terminal")
    if not password:
        parser.error("the password from %s is empty" % source)
    check_password_length(password, parser, source)
    return password, False


def check_password_length(password, parser, source):
    """Pryv takes 6 to 99 characters: a shorter one is refused here, before a platform could echo it."""
    if len(password) < secret.MIN_SECRET_LENGTH:
        parser.error("the password from %s is shorter than %d characters" % (source, secret.MIN_SECRET_LENGTH))


def confirm_password(password, parser):
    if prompt("The account does not exist yet; password again, to create it: ", parser) != password:
        parser.error("the two passwords differ")


def prompt(text, parser):
    password = getpass.getpass(text, stream=sys.stderr)
    if not password:
        parser.error("empty password")
    check_password_length(password, parser, "the prompt")
    return password
