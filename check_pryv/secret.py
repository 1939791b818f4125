"""The secrets of a run (access token, password, session token) and the one function that removes them from text.

A secret is registered as soon as it is known, before anything is written, and server text is scrubbed where
it enters the program (`client.one_line`, the first thing every server string goes through), before it is cut,
joined, or has its `|` and control characters rewritten: any of those could leave a part of a secret that a
later scrub would no longer recognise. The output streams scrub once more, as the last line of defence.

Not only the whole secret: any run of PIECE or more of its characters (a core echoing the token's first 14, a
redirect ending with its first 20) is a piece of it, and hidden. Every such run holds one of the secret's
PIECE-character windows, so these windows are what is looked for, with `in` (a C loop) first: a text that holds
none, nearly all of them, costs no more than a few substring tests.
"""
import json
from urllib.parse import quote

# Pryv generates 25-character tokens (cuids) but takes any custom one. Below 10 characters a token is
# guessable, and scrubbing it would blank out ordinary output (`time=0.0019***` for the token `2`): refused.
MIN_TOKEN_LENGTH = 10
MAX_TOKEN_LENGTH = 1024
HIDDEN = "***"
# Shorter values are no secret of ours, and are refused before any call (tokens below MIN_TOKEN_LENGTH, passwords
# below Pryv's 6 characters): scrubbing them would only blank ordinary words and digits out of the messages.
MIN_SECRET_LENGTH = 6

PIECE = 8  # the shortest run of a secret's characters that is hidden wherever it appears

_windows = set()  # every PIECE-character window of every form of every secret (the whole form when shorter)


def add(value):
    """Register a secret and the forms a server may echo it in (stripped, JSON-escaped, percent-encoded)."""
    if not isinstance(value, str):
        return
    for form in (value, value.strip(), value.rstrip("\r\n"), " ".join(value.split())):
        if len(form.strip()) >= MIN_SECRET_LENGTH:
            for shown in {form, json.dumps(form)[1:-1], json.dumps(form, ensure_ascii=False)[1:-1],
                          quote(form, safe="")}:
                size = min(PIECE, len(shown))
                _windows.update(shown[start:start + size] for start in range(len(shown) - size + 1))


def scrub(text):
    """`text` with every run of a secret's characters that holds one of its windows replaced by `***`: the whole
    secret, and any piece of PIECE characters or more."""
    found = [window for window in _windows if window in text]
    if not found:
        return text
    hidden = bytearray(len(text))  # 1 where a character belongs to a piece of a secret
    for window in found:
        start = text.find(window)
        while start >= 0:
            hidden[start:start + len(window)] = b"\x01" * len(window)
            start = text.find(window, start + 1)
    parts, position = [], 0
    while position < len(text):
        end = hidden.find(b"\x01" if not hidden[position] else b"\x00", position)
        end = len(text) if end < 0 else end
        parts.append(HIDDEN if hidden[position] else text[position:end])
        position = end
    return "".join(parts)


def token_problem(token):
    """Why `token` cannot be an access token (None when it can): the same rule for every command."""
    if not isinstance(token, str):
        return "it is not a string"
    if not token:
        return "it is empty"
    if len(token) < MIN_TOKEN_LENGTH:
        return "it is shorter than %d characters" % MIN_TOKEN_LENGTH
    if len(token) > MAX_TOKEN_LENGTH:
        return "it is longer than %d characters" % MAX_TOKEN_LENGTH
    if not is_word(token):
        return "it contains spaces, control or non-ASCII characters"
    return None


def is_word(text):
    """Printable ASCII without spaces (`!` to `~`): what a token, or a version prefix, may hold."""
    return text.isascii() and text.isprintable() and " " not in text
