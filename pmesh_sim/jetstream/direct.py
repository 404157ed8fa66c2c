"""Direct get: ``$JS.API.DIRECT.GET.<stream>[.<subject>]`` answered by a stream itself.

Only a stream with ``allow_direct`` listens there (stream.go subscribeToDirect), so a direct
get on any other stream finds no responders. The reply is the stored message itself (its
payload, its stored headers plus ``Nats-Stream``, ``Nats-Subject``, ``Nats-Sequence`` and
``Nats-Time-Stamp``) or a status message without payload, as stream.go
processDirectGetRequest / processDirectGetLastBySubjectRequest / getDirectRequest send them:

>>> from pmesh_sim.jetstream.stream import Stream
>>> from pmesh_sim.config import StreamConfig
>>> st = Stream(StreamConfig(name="K", subjects=["k.>"], allow_direct=True))
>>> _ = st.publish("k.a", b"blue", None, 0.0)
>>> out, = direct_get(st, "K", "_INBOX.1", b'{"seq": 1}')
>>> out.data, out.headers["Nats-Sequence"], out.headers["Nats-Subject"]
(b'blue', '1', 'k.a')
>>> direct_get(st, "K.k.a", "_INBOX.1", b"")[0].data
b'blue'
>>> [direct_get(st, "K", "_INBOX.1", body)[0].headers["Description"]
...  for body in (b"", b"{}", b"nope", b'{"seq": 1, "last_by_subj": "k.a"}', b'{"seq": 7}')]
['Empty Request', 'Empty Request', 'Malformed Request', 'Bad Request', 'Message Not Found']

A ``batch`` (with ``seq``, ``next_by_subj`` or ``start_time``, within ``max_bytes``) ends with
an end-of-batch status 204. ``multi_last`` sends the last message of each subject its filters
match, up to ``up_to_seq`` or ``up_to_time`` (getDirectMulti), then an end-of-batch status that
also names that ceiling (``Nats-UpTo-Sequence``); ``up_to_*`` without ``multi_last`` are read
(a bad date is malformed, both at once a bad request) but change nothing, as on the server:

>>> _ = st.publish("k.b", b"red", None, 0.0)
>>> [(o.data, o.headers.get("Nats-Num-Pending"), o.headers.get("Nats-UpTo-Sequence"))
...  for o in direct_get(st, "K", "_INBOX.1", b'{"multi_last": ["k.*"]}')]
[(b'blue', '1', None), (b'red', '0', None), (b'', '0', '2')]
"""

from __future__ import annotations

import json

from ..config import StorageType
from ..subjects import subject_matches
from .consumer import Outgoing, status
from .stream import Stream, _rfc3339, encode_headers, parse_rfc3339

__all__ = ["direct_get", "direct_subjects"]

PREFIX = "$JS.API.DIRECT.GET."
#: A batch's byte budget when the request sets none: the server's max_pending (64 MB).
MAX_PENDING = 64 * 1024 * 1024
#: The most subjects a ``multi_last`` get answers (getDirectMulti's maxAllowedResponses); more
#: is a 413 "Too Many Results".
MAX_MULTI_LAST = 1024

# JSApiMsgGetRequest's fields and the Go types json.Unmarshal insists on
_UINT = ("seq", "batch", "max_bytes", "up_to_seq")
_STR = ("last_by_subj", "next_by_subj")


def direct_subjects(st: Stream) -> set[str]:
    """The subjects a stream listens on for direct gets (none without ``allow_direct``).

    >>> from pmesh_sim.config import StreamConfig
    >>> sorted(direct_subjects(Stream(StreamConfig(name="K", allow_direct=True))))
    ['$JS.API.DIRECT.GET.K', '$JS.API.DIRECT.GET.K.>']
    """
    if not st.config.allow_direct:
        return set()
    return {f"{PREFIX}{st.name}", f"{PREFIX}{st.name}.>"}


def _parse(data: bytes) -> dict | None:
    """The request as Go's json.Unmarshal into JSApiMsgGetRequest reads it (None: malformed)."""
    try:
        req = json.loads(data)
    except ValueError:
        return None
    if req is None:
        return {}
    if not isinstance(req, dict):
        return None
    for key in _UINT:
        v = req.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            return None
    for key in _STR:
        if req.get(key) is not None and not isinstance(req[key], str):
            return None
    if req.get("no_hdr") is not None and not isinstance(req["no_hdr"], bool):
        return None
    multi = req.get("multi_last")   # a []string: null items read as ""
    if multi is not None:
        if not isinstance(multi, list) or any(not isinstance(f, (str, type(None)))
                                              for f in multi):
            return None
        req["multi_last"] = [f or "" for f in multi]
    for key in ("start_time", "up_to_time"):   # a *time.Time: an RFC 3339 date or nothing
        if req.get(key) is not None:
            try:
                parse_rfc3339(req[key])
            except (ValueError, TypeError, AttributeError):
                return None
    return req


def direct_get(st: Stream, rest: str, reply: str, data: bytes, emit=None) -> list[Outgoing]:
    """The answer to a direct get on ``$JS.API.DIRECT.GET.<rest>`` (``rest``: the stream's
    name, then for a last-by-subject get ``.<subject>``) for the stream ``st``."""
    if not reply:
        return []
    key = rest[len(st.name) + 1:]
    if key or rest != st.name:    # processDirectGetLastBySubjectRequest
        req = _parse(data) if data else {}
        if req is None:
            return [status(reply, 408, "Malformed Request")]
        if not key or any(req.get(k) for k in ("seq", "batch", "up_to_seq", *_STR, "multi_last",
                                                 "start_time", "up_to_time")):
            return [status(reply, 408, "Bad Request")]
        req["last_by_subj"] = key
    else:                          # processDirectGetRequest
        if not data:
            return [status(reply, 408, "Empty Request")]
        req = _parse(data)
        if req is None:
            return [status(reply, 408, "Malformed Request")]
        seq, last, nxt = req.get("seq") or 0, req.get("last_by_subj"), req.get("next_by_subj")
        multi, start = req.get("multi_last"), req.get("start_time")
        if not (seq or last or nxt or multi or start is not None):
            return [status(reply, 408, "Empty Request")]
        if ((seq and last) or (seq and start is not None) or (start is not None and last)
                or (last and nxt) or (last and req.get("batch")) or (last and multi)
                or (nxt and multi) or (req.get("up_to_seq") and req.get("up_to_time") is not None)):
            return [status(reply, 408, "Bad Request")]
        if multi:
            return _multi_last(st, req, reply)
    return _answer(st, req, reply)


def _seq_from_time(st: Stream, date: str) -> int:
    """GetSeqFromTime: the first stored sequence at or after ``date`` (else last_seq + 1)."""
    at = (parse_rfc3339(date) - st.epoch_ns) / 1e9
    return next((s for s, m in st.msgs.items() if m.time >= at), st.last_seq + 1)


def _headers(st: Stream, msg, extra: dict[str, str]) -> dict[str, str]:
    """A stored message's headers as a direct get sends them."""
    return {**(msg.headers or {}), "Nats-Stream": st.name, "Nats-Subject": msg.subject,
            "Nats-Sequence": str(msg.seq), "Nats-Time-Stamp": _rfc3339(msg.time, st.epoch_ns),
            **extra}


def _last_seqs(st: Stream, filters: list[str], upto: int) -> list[int] | None:
    """MultiLastMsgs' sequences: per stored subject any filter matches, its last message at or
    below ``upto``, in sequence order (None: more than :data:`MAX_MULTI_LAST`). A file store
    finds none when ``upto`` is past the last sequence (filestore selectMsgBlockWithIndex); a
    memory store reads it as the last. One message block is assumed (blocks hold megabytes)."""
    if not st.msgs or (upto > st.last_seq and st.config.storage != StorageType.MEMORY):
        return []
    seqs = []
    for subj in st.subj_count:
        if any(f and subject_matches(f, subj) for f in filters):
            seq = next((s for s in reversed(st._subj_seqs.get(subj, ()))
                        if s <= upto and s in st.msgs), 0)
            if seq:
                seqs.append(seq)
    return None if len(seqs) > MAX_MULTI_LAST else sorted(seqs)


def _multi_last(st: Stream, req: dict, reply: str) -> list[Outgoing]:
    """getDirectMulti: the last message per matching subject from ``seq`` up to ``up_to_seq``
    (or the last before ``up_to_time``), each with ``Nats-Num-Pending`` and
    ``Nats-Last-Sequence`` (``no_hdr`` is not read), within ``batch`` and ``max_bytes``, then
    the end-of-batch status with ``Nats-UpTo-Sequence``; 404 "No Results" when none match."""
    upto = req.get("up_to_seq") or 0
    if req.get("up_to_time") is not None:
        upto = _seq_from_time(st, req["up_to_time"])
        if upto <= st.state()["first_seq"]:   # nothing stored before that date
            return [status(reply, 404, "No Results")]
        upto -= 1
    upto = upto or st.last_seq
    seqs = _last_seqs(st, req["multi_last"], upto)
    if seqs is None:
        return [status(reply, 413, "Too Many Results")]
    if not seqs:
        return [status(reply, 404, "No Results")]
    out: list[Outgoing] = []
    left, lseq, sent, size = len(seqs), 0, 0, 0
    budget, batch, start = req.get("max_bytes") or MAX_PENDING, req.get("batch") or 0, \
        req.get("seq") or 0
    for seq in seqs:
        left -= 1
        if seq < start:
            continue
        msg = st.msgs[seq]
        out.append(Outgoing(reply, "", msg.data, _headers(st, msg, {
            "Nats-Num-Pending": str(left), "Nats-Last-Sequence": str(lseq)})))
        lseq = seq
        size += len(msg.subject) + len(encode_headers(msg.headers)) + len(msg.data)
        if size >= budget:
            break
        sent += 1
        if batch and sent >= batch:
            break
    out.append(status(reply, 204, "EOB", **{"Nats-Num-Pending": str(left),
                                             "Nats-Last-Sequence": str(lseq),
                                             "Nats-UpTo-Sequence": str(upto)}))
    return out


def _answer(st: Stream, req: dict, reply: str) -> list[Outgoing]:
    """getDirectRequest: one message, or with ``batch`` up to that many (each telling how many
    are left, ``Nats-Num-Pending``, and the one before, ``Nats-Last-Sequence``) until
    ``max_bytes``, then an end-of-batch status 204."""
    seq = req.get("seq") or 0
    if req.get("start_time") is not None:
        seq = _seq_from_time(st, req["start_time"])
    nxt, last, batch = req.get("next_by_subj"), req.get("last_by_subj"), req.get("batch") or 0
    left = (sum(1 for s, m in st.msgs.items() if s >= seq and (not nxt or subject_matches(
        nxt, m.subject))) if batch else 0)
    out: list[Outgoing] = []
    sent, lseq = 0, 0
    for i in range(batch or 1):
        if nxt or (seq and (batch or i)):   # LoadNextMsg: steps over deleted messages
            msg = next((m for s, m in st.msgs.items()
                        if s >= seq and (not nxt or subject_matches(nxt, m.subject))), None)
        elif seq:
            msg = st.get(seq)
        else:
            msg = st.get(st.last_matching(last))
        if msg is None:
            if batch > 1 and i > 0:
                break
            return [status(reply, 404, "Message Not Found")]
        seq = msg.seq + 1
        headers = None
        if not req.get("no_hdr"):
            left = max(left - 1, 0) if batch else left
            headers = _headers(st, msg, {"Nats-Num-Pending": str(left),
                                         "Nats-Last-Sequence": str(lseq)} if batch else {})
        lseq = msg.seq
        out.append(Outgoing(reply, "", msg.data, headers))
        sent += len(msg.subject) + len(encode_headers(msg.headers)) + len(msg.data)
        if sent >= (req.get("max_bytes") or MAX_PENDING):
            break
    if batch:
        out.append(status(reply, 204, "EOB", **{"Nats-Num-Pending": str(left),
                                                 "Nats-Last-Sequence": str(lseq)}))
    return out


def msg_get(lookup, body: dict) -> dict:
    """The answer to ``$JS.API.STREAM.MSG.GET.<stream>`` (jsMsgGetRequest): the request is
    checked before ``lookup()`` finds the stream; ``start_time`` picks the first message
    stored at or after it; ``multi_last`` and ``up_to_*`` are not read by this API.

    >>> from pmesh_sim.config import StreamConfig
    >>> st = Stream(StreamConfig(name="K", subjects=["k.>"]))
    >>> _ = st.publish("k.a", b"blue", None, 0.0)
    >>> msg_get(lambda: st, {"last_by_subj": "k.*"})["message"]["seq"]
    1
    """
    import base64

    from ..config import ConsumerConfig
    from ..errors import JetStreamError
    from .stream import encode_headers, parse_rfc3339

    if (body.get("batch") or 0) > 0 or (body.get("max_bytes") or 0) > 0:
        raise JetStreamError.from_err_code(10003)   # "this version does not support batch"
    start = body.get("start_time")
    if start is not None:   # read as Go reads a time.Time (10025 for a bad one)
        ConsumerConfig.from_wire({"opt_start_time": start})
    seq, last, nxt = int(body.get("seq") or 0), body.get("last_by_subj"), body.get("next_by_subj")
    if ((seq and last) or (not seq and not last and not nxt and start is None)
            or (seq and start is not None) or (start is not None and last) or (last and nxt)):
        raise JetStreamError.from_err_code(10003)
    st = lookup()
    if start is not None:   # GetSeqFromTime
        at = (parse_rfc3339(start) - st.epoch_ns) / 1e9
        seq = next((s for s, m in st.msgs.items() if m.time >= at), st.last_seq + 1)
    if nxt:
        msg = next((m for s, m in st.msgs.items() if s >= seq and subject_matches(nxt, m.subject)),
                   None)
    elif seq:
        msg = st.get(seq)
    else:
        msg = st.get(st.last_matching(last))
    if msg is None:
        raise JetStreamError.from_err_code(10037)
    # StoredMsg: subject, seq, hdrs and data (both omitempty), time
    message: dict = {"subject": msg.subject, "seq": msg.seq}
    if msg.headers and not body.get("no_hdr"):
        message["hdrs"] = base64.b64encode(encode_headers(msg.headers)).decode()
    if msg.data:
        message["data"] = base64.b64encode(msg.data).decode()
    message["time"] = _rfc3339(msg.time, st.epoch_ns)
    return {"type": "io.nats.jetstream.api.v1.stream_msg_get_response", "message": message}
