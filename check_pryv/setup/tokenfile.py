"""check_pryv_setup's token: to --token-file (mode 0600, atomically, given to --owner) or alone on stdout, then
the lines to paste."""

import argparse
import collections
import grp
import os
import pwd
import sys

from check_pryv import configtext, safefile
from check_pryv.setup import Refused, say


def deliver(args, token):
    """The token to --token-file or alone on stdout; then the lines to paste, on stderr."""
    if args.token_file:  # written before anything is printed: a closed output cannot lose it
        done = save_token(args.token_file, token, args.force, args.owner)
        owner = ", owner %s" % args.owner.spec if args.owner else ""
        say("token %s %s (mode %04o%s)" % (done, args.token_file, os.stat(args.token_file).st_mode & 0o7777, owner))
    elif not sys.stdout.write_raw(token + "\n"):  # the product itself: unscrubbed, on its own
        raise Refused("the token could not be written to stdout: give --token-file PATH (running again gives "
                      "the same token)")
    say("")
    say("Lines to paste:")
    for line in configtext.paste_lines(args, reader_of(args.owner)):
        say("  " + line)


def token_file_problem(path):
    """Why the token could not be written there, found before any call to the platform; None when fine."""
    problem = safefile.replaceable(path)
    if problem:
        return problem
    if os.path.exists(path) and not os.access(path, os.R_OK):
        return "it cannot be read"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return "directory %s does not exist" % folder
    if not os.access(folder, os.W_OK):
        return "directory %s is not writable" % folder
    return None


def save_token(path, token, force, owner=None):
    """Leave a file that holds this token (for this owner) alone; replace another token only with --force;
    atomically, 0600 (or --owner's mode). Without --owner, root replacing the file keeps its owner."""
    try:
        old = safefile.read(path, follow=False).strip() if os.path.lexists(path) else ""
    except (OSError, UnicodeDecodeError) as error:
        raise Refused("cannot read %s: %s" % (path, getattr(error, "strerror", None) or "not text"))
    if old == token and (owner is None or owned_by(os.lstat(path), owner)):
        return "unchanged in"
    if old and old != token and not force:
        raise Refused("%s holds another token: not replaced (give --force to replace it; running again gives "
                      "the same token)" % path)
    try:
        if owner is None:
            safefile.write_atomic(path, token + "\n")
        else:
            safefile.write_atomic(path, token + "\n", (owner.uid, owner.gid), owner_mode(owner))
    except OSError as error:
        raise Refused("cannot write %s: %s" % (path, error.strerror))
    return "replaced in" if old and old != token else "written to"


# --owner: who reads the token file. The temporary file changes hands before its rename, so that the token is
# never, even for an instant, under its name with the wrong owner or mode.
Owner = collections.namedtuple("Owner", "spec uid gid group_reads")


def owner_spec(text):
    """--owner USER[:GROUP], as this machine knows them (USER alone, or USER:, means USER's login group)."""
    user, _, group = text.partition(":")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise argparse.ArgumentTypeError("unknown user %r" % user)
    if not group:
        return Owner(user, entry.pw_uid, entry.pw_gid, False)
    try:
        return Owner("%s:%s" % (user, group), entry.pw_uid, grp.getgrnam(group).gr_gid, True)
    except KeyError:
        raise argparse.ArgumentTypeError("unknown group %r" % group)


def owner_mode(owner):
    return 0o640 if owner.group_reads else 0o600


def reader_of(owner):
    """Who reads the token file, in the lines to paste."""
    if owner is None:
        return "the user that runs the checks (see --owner)"
    user, _, group = owner.spec.partition(":")
    return "%s and the group %s" % (user, group) if group else user


def owned_by(stat, owner):
    return (stat.st_uid, stat.st_gid, stat.st_mode & 0o7777) == (owner.uid, owner.gid, owner_mode(owner))
