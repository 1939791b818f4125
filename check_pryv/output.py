"""Where every byte the commands write goes: scrubbed of secrets, free of control characters, and never a crash
when it cannot be written. `one_line` is the one filter of text that a server or a platform chose.

A monitoring system may start a plugin with stdout closed, read only its first line (broken pipe), or log to
a full disk. None of that may cost a traceback or the exit code, which carries the state on its own.
"""
import os
import sys

from check_pryv import secret

# What a terminal acts on (ESC, OSC and CSI sequences, BEL, a carriage return that rewrites the line): replaced by
# `?` in everything written, as the last line of defence. A line break and a tab are the commands' own layout.
_CONTROLS = {code: "?" for code in [*range(0x20), *range(0x7f, 0xa0)] if chr(code) not in "\n\t"}


def one_line(text, length=None):
    """Text a server or a platform chose, as one printable line (of at most `length` characters, then `...`):
    its secrets removed first, before anything is cut or joined (a cut would leave a part of a secret that no
    scrubber recognises), every run of white space one space, every other unprintable character `?`."""
    text = " ".join(secret.scrub(str(text)).split())
    if not text.isprintable():
        text = "".join(c if c.isprintable() else "?" for c in text)
    return text[:length] + "..." if length is not None and len(text) > length else text


def reserve_standard_descriptors():
    """Point a closed stdin, stdout or stderr at /dev/null, so that no file opened later takes its number
    (a token file on descriptor 1 would receive the status line)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


class Stream:
    """A text stream that scrubs secrets and swallows the errors of writing (EPIPE, ENOSPC, a closed stream).

    After a failure the descriptor is pointed at /dev/null: the interpreter's last flush then succeeds too.
    """

    def __init__(self, stream, fd):
        self.stream, self.fd, self.failed = stream, fd, stream is None

    def write(self, text):
        self.write_raw(secret.scrub(text).translate(_CONTROLS))
        return len(text)

    def write_raw(self, text):
        """Write unscrubbed (setup's token on stdout, and nothing else); False when it could not be written."""
        if self.failed:
            return False
        try:
            self.stream.write(text)
            self.stream.flush()
            return True
        except (OSError, ValueError):
            self._give_up()
            return False

    def flush(self):
        if not self.failed:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self._give_up()

    def _give_up(self):
        self.failed = True
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.fd)
            os.close(null)
        except OSError:
            pass

    def isatty(self):
        return not self.failed and self.stream.isatty()

    def __getattr__(self, name):  # encoding, fileno...
        return getattr(self.stream, name)


def install():
    """Guard the standard descriptors and wrap sys.stdout and sys.stderr; returns (stdout, stderr)."""
    reserve_standard_descriptors()
    streams = []
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if isinstance(stream, Stream):
            streams.append(stream)
            continue
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")  # a server's text never fails to print
        wrapped = Stream(stream, fd)
        setattr(sys, name, wrapped)
        streams.append(wrapped)
    return streams
