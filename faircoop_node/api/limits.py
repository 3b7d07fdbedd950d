"""What the API may cost the node: connections, block streams, worker threads, response bytes.

The API shares a process with consensus, so its worst case must leave the node enough of every
resource to keep voting: file descriptors above all (at the common limit of 1,024, a thousand
open streams once left none for peers or the store). `ApiLimits.for_descriptors` sizes the
connection cap from the process's descriptor limit, after a reserve for the peers, the store
and the process's own files; half the connections may be block streams, so plain requests
still get through when the streams are all taken. Past a cap the answer is a 503 with
`Retry-After`, never a hang or a crash. An operator may set both caps (`[api] max_connections`,
`max_streams`); the node then warns if the connections exceed what the limit leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

MIB: Final = 1024 * 1024
# stdio, log files, the listening sockets, the inbox, DNS lookups, and room to spare
FD_BASE_RESERVE: Final = 64
MIN_CONNECTIONS: Final = 8
DEFAULT_NOFILE: Final = 1024  # where the limit can't be read (no `resource` module)


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """Bounds on what API clients can make the node hold, all at once."""

    max_connections: int = 512  # open HTTP connections, streams included (see site.py)
    max_streams: int = 256  # open streams: `blocks/stream` and `address/{addr}/stream`
    read_threads: int = 2  # threads for reads that touch many keys or whole blocks
    max_reads: int = 64  # such reads queued or running; past it, 503
    max_response_bytes: int = 256 * MIB  # bodies of such reads being sent at once; past it, 503
    write_timeout_s: float = 30.0  # a client that takes no bytes for this long is dropped
    idle_timeout_s: float = 15.0  # a connection with no request in progress for this long
    retry_after_s: int = 5  # the Retry-After of every 503

    def __post_init__(self) -> None:
        if (min(self.max_connections, self.max_streams, self.read_threads, self.max_reads,
                self.max_response_bytes, self.retry_after_s) < 1
                or min(self.write_timeout_s, self.idle_timeout_s) <= 0):
            raise ValueError(f"every API limit must be positive: {self}")

    @classmethod
    def for_descriptors(cls, nofile: int, reserved: int, *, max_connections: int = 0,
                        max_streams: int = 0) -> ApiLimits:
        """Limits that leave `reserved` descriptors (peers, store) and a base reserve free,
        unless the operator set the caps (`max_connections`, `max_streams`; 0: not set).

        Sized, the connections are at least MIN_CONNECTIONS, so a node whose limit is too low
        for its peers still answers a few requests (the operator should raise the limit:
        OPERATIONS.md), and the streams half of them; streams never exceed connections.
        """
        default = cls()
        sized = max(MIN_CONNECTIONS, min(default.max_connections,
                                         spare_descriptors(nofile, reserved)))
        connections = max_connections or sized
        streams = min(max_streams or max(1, connections // 2), connections)
        return replace(default, max_connections=connections, max_streams=streams)


def spare_descriptors(nofile: int, reserved: int) -> int:
    """Descriptors left for API connections under a limit of `nofile`, after `reserved` ones
    (peers, store) and the process's own base reserve."""
    return nofile - reserved - FD_BASE_RESERVE


def descriptor_limit() -> int:
    """The process's soft limit on open files (RLIMIT_NOFILE)."""
    try:
        import resource
    except ImportError:  # not on this platform
        return DEFAULT_NOFILE
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return DEFAULT_NOFILE if soft == resource.RLIM_INFINITY else int(soft)
