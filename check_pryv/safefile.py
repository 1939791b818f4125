"""Reading and writing the few small files the commands touch (token, password), without surprises.

Reading takes regular files only, never more than a size cap, and never blocks: a FIFO, a device or a link to
/dev/zero is refused with a reason. Writing never goes through a link and never replaces anything but a
regular file: the new content goes to a fresh temporary file (mode 0600) that then atomically takes the name.
"""
import errno
import os
import signal
import stat
import tempfile

SIZE_CAP = 4096  # a token or a password is a line


class FileProblem(OSError):
    """A file that is there but is not one the command may read or replace."""


def _refusal(mode):
    """Why a file of this mode is refused: it is not a regular file, and which kind it is."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return "it is %s, not a regular file" % name
    return "it is not a regular file"


def read(path, follow=True):
    """The text of a small regular file; OSError (a FileProblem for the wrong kind of file) or UnicodeDecodeError."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP and not follow:  # O_NOFOLLOW met a symbolic link
            raise FileProblem(error.errno, "it is a symbolic link")
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileProblem(0, _refusal(mode))
        data = os.read(fd, SIZE_CAP + 1)
    finally:
        os.close(fd)
    if len(data) > SIZE_CAP:
        raise FileProblem(0, "it is larger than %d bytes" % SIZE_CAP)
    return data.decode("utf-8")


def replaceable(path):
    """Why `path` may not be (re)written, or None: absent, or a regular file that is not a link."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return None
    return _refusal(mode)


def write_atomic(path, text, owner=None, mode=0o600):
    """Put `text` in `path` (`mode`, 0600 by default) through a temporary file in the same directory, then an
    atomic rename.

    `owner` is (uid, gid) to give the file, or None to keep the replaced file's owner when running as root; the
    temporary file changes hands before the text is written, so the secret is never under another owner or mode.
    SIGINT and SIGTERM wait until the file is in place or gone: no half-written file, no stray copy of a secret.
    """
    problem = replaceable(path)
    if problem:
        raise FileProblem(0, problem)
    folder = os.path.dirname(os.path.abspath(path))
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".")  # O_EXCL, 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                if owner is None and os.geteuid() == 0 and os.path.exists(path):
                    replaced = os.lstat(path)  # root replacing the monitoring user's file keeps its owner
                    owner = replaced.st_uid, replaced.st_gid
                if owner is not None:
                    os.fchown(stream.fileno(), *owner)
                os.fchmod(stream.fileno(), mode)
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            if replaceable(path):  # changed since the first look: never rename over a device or a link
                raise FileProblem(0, replaceable(path))
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def whose(path, error):
    """For a file this user may not read (a token file): whose it is, and how to give it to the user the check
    runs as (a sandbox or check_pryv_setup run as root leaves it root's)."""
    if not isinstance(error, PermissionError):
        return ""
    import pwd

    try:
        owner = pwd.getpwuid(os.stat(path).st_uid).pw_name
        me = pwd.getpwuid(os.geteuid()).pw_name
    except (OSError, KeyError):  # a directory on the way is closed too, or an owner without a name
        return ""
    return ": it belongs to %s and this check runs as %s: give it to %s (chown %s FILE, or check_pryv_setup " \
           "--owner %s), or run what writes it as %s" % (owner, me, me, me, me, me)
