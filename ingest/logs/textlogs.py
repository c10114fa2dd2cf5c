"""Text logs: regex patterns with named groups, built-in presets, multi-line records.

A pattern is *searched* in each record (anchor it with ``^...$`` for a full match); each
named group becomes a string column (an optional group that did not take part gives an
empty string). Presets are written after the layouts real systems write (see
``tests/data/real-logs``); they give their columns types: integers for HTTP status, bytes,
syslog priority and pid ("-" is null), and the time read to timestamp[us, UTC] by
:mod:`ingest.logs.eventtime` with the preset's own formats (syslog's year-less time takes
the year rule there). Each has its own multi-line start, derived from its time prefix.
``--format auto`` on a text file without a pattern or preset picks the preset that parses a
clear majority of the file's first records (:func:`choose_preset`), or refuses.

Patterns run on RE2 (Arrow's regex engine, vectorised); a pattern RE2 refuses (look-around,
back-references) runs on Python's ``re`` instead, record by record.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from ingest.exceptions import LogFormatError
from ingest.logs import inference as inf
from ingest.logs.eventtime import EventTimeParser, TimeRules, date_orders, shown
from lake.core.arrow_values import FALSE, TRUE, array, scalar

MAX_RECORD_LINES = 10_000
"""Lines joined into one multi-line record at most; the rest starts a new record (flagged)."""
RECORD_CUT_ERROR = f"multi-line record longer than {MAX_RECORD_LINES} lines: continued in the next"

_HTTP_REQUEST = (
    # Apache and NGINX write a quote inside the request as \" (kept as written, as in the
    # referrer and the agent). The request is kept as logged; its parts are split as NGINX
    # reads a request line: the protocol is its last word when that is HTTP/x.y, the path
    # all between (spaces too). Bytes that are no request line (a TLS handshake sent to a
    # plain HTTP port) leave the parts null, with a note (:data:`REQUEST_PARTS`).
    r'"(?P<request>(?P<method>[A-Z][A-Z_-]*) (?P<path>(?:[^"]|\\")*?)'
    r'(?: (?P<protocol>HTTP/\d+(?:\.\d+)?))?|(?:[^"]|\\")*)" '
    r"(?P<status>\d{3}|-) (?P<bytes>\d+|-)"
    r'(?: "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?'
)


_LEVELS = r"(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL)"
_ISO_TIME = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[,.]\d{1,9})?"
_LOG4J_FORMATS = (
    "%Y-%m-%d %H:%M:%S,%f",
    "%Y-%m-%dT%H:%M:%S,%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
)
_SYSLOG_TIME = (
    r"(?:[A-Z][a-z]{2} [ 0-9]\d \d{2}:\d{2}:\d{2}"
    # RFC 3339, as rsyslog's RSYSLOG_FileFormat (Debian 12's default) and syslog-ng's ISO
    # stamps write it: a year, a fraction and an offset, so the time is exact. At most six
    # digits of fraction (RFC 5424's TIME-SECFRAC), as they write it.
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2}))"
)
_RFC5424_HEAD = r"<\d{1,3}>\d{1,2} "
_RFC3339_NANO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})"
"""Go's ``time.RFC3339Nano`` (containerd and CRI-O write it): trailing zeros of the fraction
are dropped, the dot too when all are zero."""
_SYSLOG_TAG = (
    r"(?P<program>[^\s:\[\]()]+)(?:\((?P<subsystem>[^)\s]*)\))?(?:\[(?P<pid>\d+)\])?"
    r"(?: \([^)]*\)| [^\s:\[\]]+)?:"
)
_APP_WORDS = r"(?i:" + _LEVELS + r"|INF|WRN|ERR|DBG|TRC|FTL|CRIT|PANIC|stdout|stderr)"
"""What an application or a container runtime writes after its time: a level or a stream.
No syslog host or program is one of them."""
_RFC3339_SYSLOG = (
    # Application and container logs also open with an RFC 3339 time and words (`INFO msg`,
    # CRI's `stdout F msg`, `docker logs --timestamps`); rsyslog and syslog-ng write a host,
    # then a tag ending in ':', and no host is a level word or a stream. (An RFC 3164 time
    # is syslog's own: such a line needs nothing more.)
    r"^(?:<\d{1,3}>)?(?![0-9]{4}-)|^(?:<\d{1,3}>)?\S+ +(?!"
    + _APP_WORDS
    + r"\s)[^\s:\[\]]+ +"
    # the tag as the preset reads it, without its groups
    + re.sub(r"\(\?P<\w+>", "(?:", _SYSLOG_TAG)
)


def _syslog_pattern(*, app_words: bool) -> str:
    """The syslog preset's regex; without ``app_words`` neither its host nor its program may
    be a level word or a stream (a look-ahead: Python's ``re`` only, see :data:`_REREADS`)."""
    guard = "" if app_words else r"(?!" + _APP_WORDS + r"[\s:\[])"
    return (
        r"^(?:<(?P<priority>\d{1,3})>)?(?P<time>" + _SYSLOG_TIME + r") +"
        r"(?:" + guard + r"(?P<host>[^\s:\[\]]+) +)?"
        r"(?:" + guard + _SYSLOG_TAG + r" ?)?"
        r"(?P<message>(?s:.*))$"
    )


@dataclasses.dataclass(frozen=True)
class Parts:
    """A group whose text is split into other groups (an access log's request into method,
    path and protocol). Text there that gives none of them is kept whole and gets a note in
    ``_error`` (the record is parsed, not failed): its nulls say why. ``nil`` texts mean
    nothing was there to split (Apache's ``"-"``, NGINX's ``""``) and get none."""

    whole: str
    parts: tuple[str, ...]
    shape: str
    """What the whole's text is when it splits ("HTTP request line")."""
    nil: tuple[str, ...] = ("", "-")

    def note(self, value: str | None) -> str:
        names = ", ".join(self.parts[:-1]) + " and " + self.parts[-1]
        return (
            f"{self.whole} '{shown(value)}' is no {self.shape}: {names} are null "
            f"({self.whole} keeps it as logged)"
        )


REQUEST_PARTS = Parts("request", ("method", "path", "protocol"), "HTTP request line")


@dataclasses.dataclass(frozen=True)
class Partials:
    """Lines a writer split, joined into one record: a line ``above`` matches (the CRI tag
    ``P``) goes on in the next line when that one matches ``below`` (a line of the same
    layout). Each line of such a record is parsed on its own: the record takes its first
    line's groups, ``piece`` the lines' ``piece`` texts concatenated (no separator: the
    writer split one line), ``last`` from its last line; lines whose ``same`` groups differ
    are no one record (it fails, its lines kept in ``_raw``). A record that ends with a line
    ``above`` matches (its end never came, or not yet: the file is still written) is parsed
    with a note in ``_error``."""

    above: str
    below: str
    tag: str
    """The group that says whether a line is partial."""
    partial: str
    """A regex the ``tag`` of a partial line matches."""
    piece: str
    last: tuple[str, ...]
    same: tuple[str, ...]

    def note(self) -> str:
        return (
            f"a partial line ({self.tag} P) whose end is not the next line: {self.piece} "
            "holds only its first part (ingest the file again once its writer ends the line)"
        )


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named layout: its pattern, the types of its groups, how to read its time, where a
    multi-line record starts, and a line written after the documented layout."""

    name: str
    pattern: str
    ints: tuple[str, ...] = ()
    floats: tuple[str, ...] = ()
    no_number: tuple[str, ...] = ("-",)
    """Texts that mean "no number" in ``ints`` and ``floats`` (null there): ALB's -1 for a
    time it never measured is no time of -1 seconds, and would skew every average."""
    time: str | None = None
    """The group typed as a timestamp and read as the event time."""
    time_formats: tuple[str, ...] = ()
    """How its time is written (``--time-format`` syntax), tried in order."""
    optional: tuple[str, ...] = ()  # groups whose empty string (or "-") means "absent" (null)
    multiline_start: str | None = None
    alternates: tuple[tuple[str, str], ...] = ()  # (column, group): group fills the column's nulls
    nil: str = ""
    """The text that means "absent" in an optional group ("-" in RFC 5424)."""
    time_fields: tuple[str, ...] = ()
    """Groups joined (by a space) into the event time when the time is split (HDFS)."""
    parts: Parts | None = None
    partials: Partials | None = None
    """How a line the writer split (CRI's ``P`` lines) is joined with the lines that end it."""
    padded: tuple[str, ...] = ()
    """Groups a layout pads to a width (logback's ``%15.15t``): their spaces are no text."""
    nanos: str | None = None
    """A group holding the time's fraction digits as written: a column of the nanoseconds
    into its second (an int; 0 when no fraction is written), as ``time`` keeps microseconds."""
    auto_check: str | None = None
    """A regex (Python's ``re``, for :func:`score_presets` only) a record must match as well
    to count for ``--format auto``: where the preset's own optional groups let it parse the
    lines of other logs, what its layout always writes."""
    description: str = ""
    example: str = ""

    @property
    def event_time_fields(self) -> tuple[str, ...]:
        return self.time_fields or ((self.time,) if self.time else ())

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "pattern": self.pattern,
            "time_fields": list(self.event_time_fields),
            "time_formats": list(self.time_formats),
            "multiline_start": self.multiline_start,
            "example": self.example,
        }


PRESETS: dict[str, Preset] = {
    "apache-combined": Preset(
        "apache-combined",
        r"^(?P<client_ip>\S+) (?P<ident>\S+) (?P<auth>\S+) \[(?P<time>[^\]]+)\] " + _HTTP_REQUEST,
        ints=("status", "bytes"),
        time="time",
        time_formats=("%d/%b/%Y:%H:%M:%S %z",),
        optional=("method", "path", "protocol", "referrer", "agent"),
        parts=REQUEST_PARTS,
        description="Apache httpd access log, Combined or Common Log Format",
        example='127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" '
        '200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
    ),
    "nginx-combined": Preset(
        "nginx-combined",
        r"^(?P<client_ip>\S+) - (?P<remote_user>\S+) \[(?P<time>[^\]]+)\] " + _HTTP_REQUEST,
        ints=("status", "bytes"),
        time="time",
        time_formats=("%d/%b/%Y:%H:%M:%S %z",),
        optional=("method", "path", "protocol", "referrer", "agent"),
        parts=REQUEST_PARTS,
        description="NGINX access log, log_format combined",
        example='192.168.1.20 - - [28/Jul/2006:10:27:10 -0300] "GET /cgi-bin/try/ HTTP/1.0" '
        '200 3395 "-" "Mozilla/5.0"',
    ),
    "apache-error": Preset(
        "apache-error",
        r"^\[(?P<time>[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d{2}:\d{2}:\d{2}"
        r"(?:\.\d{1,6})? \d{4})\] "
        r"\[(?:(?P<module>[^:\]\s]*):)?(?P<level>[a-z]+\d?)\]"
        r"(?: \[pid (?P<pid>\d+)(?::tid (?P<tid>\d+))?\])?"
        r"(?: \[client (?P<client>[^\]]+)\])? ?(?P<message>(?s:.*))$",
        ints=("pid", "tid"),
        time="time",
        time_formats=("%a %b %d %H:%M:%S.%f %Y", "%a %b %d %H:%M:%S %Y"),
        optional=("module", "pid", "tid", "client"),
        multiline_start=r"^\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d{2}:\d{2}:\d{2}",
        description="Apache httpd error log (2.2 and 2.4 layouts)",
        example="[Thu Jun 27 06:58:09.123456 2019] [core:error] [pid 1234:tid 5678] "
        "[client 10.0.0.7:51234] AH00126: Invalid URI in request GET /x HTTP/1.1",
    ),
    "nginx-error": Preset(
        "nginx-error",
        r"^(?P<time>\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[(?P<level>[a-z]+)\] "
        r"(?P<pid>\d+)#(?P<tid>\d+): (?:\*(?P<connection>\d+) )?(?P<message>(?s:.*))$",
        ints=("pid", "tid", "connection"),
        time="time",
        time_formats=("%Y/%m/%d %H:%M:%S",),
        optional=("connection",),
        multiline_start=r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[",
        description="NGINX error log",
        example='2016/12/19 16:00:01 [error] 1234#5678: *1 open() "/usr/share/nginx/html/x" '
        "failed (2: No such file or directory), client: 10.0.0.7, server: localhost",
    ),
    "syslog": Preset(
        "syslog",
        _syslog_pattern(app_words=True),
        ints=("priority", "pid"),
        time="time",
        time_formats=("%b %d %H:%M:%S", "iso8601"),
        optional=("priority", "host", "program", "subsystem", "pid"),
        auto_check=_RFC3339_SYSLOG,
        # An RFC 5424 line starts a record too: it fails this preset on its own, not as a
        # continuation of the line above.
        multiline_start=r"^(?:(?:<\d{1,3}>)?" + _SYSLOG_TIME + " |" + _RFC5424_HEAD + ")",
        description="BSD syslog (RFC 3164; Linux and macOS files), its time without a year "
        "or RFC 3339 (rsyslog's file format); host and pid optional",
        example="<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8",
    ),
    "syslog-rfc5424": Preset(
        "syslog-rfc5424",
        r"^<(?P<priority>\d{1,3})>(?P<version>\d{1,2}) (?P<time>\S+) (?P<host>\S+) "
        r"(?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
        # A UTF-8 MSG starts with a BOM (RFC 5424 6.4): it marks the encoding, it is no text.
        # (the BOM written as itself: RE2, Arrow's engine, has no \u escape)
        r"(?P<structured_data>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: "
        "\ufeff?"
        r"(?P<message>(?s:.*)))?$",
        ints=("priority", "version"),
        time="time",
        time_formats=("iso8601",),
        optional=("time", "host", "app", "procid", "msgid", "structured_data", "message"),
        nil="-",
        multiline_start="^" + _RFC5424_HEAD,
        description="IETF syslog (RFC 5424); '-' is null",
        example="<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        '[exampleSDID@32473 iut="3" eventSource="Application"] An application event',
    ),
    "log4j": Preset(
        "log4j",
        r"^(?P<time>" + _ISO_TIME + r")\s+"
        r"(?:\[(?P<thread>[^\]]*)\]\s+)?(?P<level>" + _LEVELS + r")\s+"
        # A logger is a Java name: it starts with a letter, '_' or '$'. Spring Boot's default
        # layout writes its PID (or nothing) and '---' there: no logger, not this layout.
        r"(?:\[(?P<thread_after_level>[^\]]*)\]\s+)?(?P<logger>[A-Za-z_$][^\s:]*)\s*(?:-|:)?\s?"
        r"(?P<message>(?s:.*))$",
        time="time",
        time_formats=_LOG4J_FORMATS,
        optional=("thread", "thread_after_level"),
        alternates=(("thread", "thread_after_level"),),
        multiline_start=r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}",
        description="log4j/logback with an ISO date first, then the level and the logger (Hadoop "
        "YARN/MapReduce); not Spring Boot's default layout (PID and '---' before the logger)",
        example="2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app."
        "MRAppMaster: Created MRAppMaster for application appattempt_1445144423722_0020_000001",
    ),
    "kafka": Preset(
        "kafka",
        r"^\[(?P<time>" + _ISO_TIME + r")\] (?P<level>" + _LEVELS + r")\s+"
        # %m (%c)%n then the throwable: the logger closes the message (which may span
        # lines); what follows it is the stack trace.
        r"(?P<message>(?s:.*?))(?: \((?P<logger>[^()\s]+)\)(?:\n(?P<trace>(?s:.*)))?)?$",
        time="time",
        time_formats=_LOG4J_FORMATS,
        optional=("logger", "trace"),
        multiline_start=r"^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}",
        description="Apache Kafka server.log (log4j '[%d] %p %m (%c)%n')",
        example="[2016-12-19 16:00:01,234] INFO [Kafka Server 0], started "
        "(kafka.server.KafkaServer)",
    ),
    "zookeeper": Preset(
        "zookeeper",
        r"^(?P<time>" + _ISO_TIME + r") - (?P<level>" + _LEVELS + r")\s+"
        r"\[(?P<thread>[^\n]*?):(?P<class>[^:\]@\s]+)@(?P<source_line>\d+)\] - "
        r"(?P<message>(?s:.*))$",
        ints=("source_line",),
        time="time",
        time_formats=_LOG4J_FORMATS,
        multiline_start=r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} - ",
        description="Apache ZooKeeper (log4j '%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n')",
        example="2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:"
        "FastLeaderElection@774] - Notification time out: 3200",
    ),
    "spark": Preset(
        "spark",
        r"^(?P<time>\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) (?P<level>" + _LEVELS + r") "
        r"(?P<logger>[^\s:]+): (?P<message>(?s:.*))$",
        time="time",
        time_formats=("%y/%m/%d %H:%M:%S",),
        multiline_start=r"^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} ",
        description="Hadoop/Spark log4j 'yy/MM/dd HH:mm:ss LEVEL class: msg'",
        example="17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered "
        "signal handlers for [TERM, HUP, INT]",
    ),
    "hdfs": Preset(
        "hdfs",
        r"^(?P<date>\d{6}) (?P<time>\d{6}) (?P<pid>\d+) (?P<level>" + _LEVELS + r") "
        r"(?P<logger>[^\s:]+): (?P<message>(?s:.*))$",
        ints=("pid",),
        time_fields=("date", "time"),
        time_formats=("%y%m%d %H%M%S",),
        multiline_start=r"^\d{6} \d{6} \d+ ",
        description="Hadoop HDFS 0.x 'yyMMdd HHmmss pid LEVEL class: msg'",
        example="081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for "
        "block blk_38865049064139660 terminating",
    ),
    "python": Preset(
        "python",
        r"^(?:(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) - (?P<logger>[^\n]+?) - "
        r"(?P<level>" + _LEVELS + r") - |(?P<level_basic>" + _LEVELS + r"):"
        r"(?P<logger_basic>[^:\s]*):)(?P<message>(?s:.*))$",
        time="time",
        time_formats=("%Y-%m-%d %H:%M:%S,%f",),
        optional=("time", "logger", "level", "level_basic", "logger_basic"),
        alternates=(("level", "level_basic"), ("logger", "logger_basic")),
        multiline_start=r"^(?:\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} - |" + _LEVELS + ":)",
        description="Python logging: basicConfig's 'LEVEL:name:msg', or "
        "'%(asctime)s - %(name)s - %(levelname)s - %(message)s'",
        example="2003-07-08 16:49:45,896 - simple_example - WARNING - warn message",
    ),
    "spring-boot": Preset(
        "spring-boot",
        # logback's default of Spring Boot 2 and 3 (defaults.xml): '%d %5p ${PID:- } ---
        # %esb{APPLICATION_NAME}%esb{APPLICATION_GROUP}[%15.15t]
        # ${LOG_CORRELATION_PATTERN:-}%-40.40logger{39} : %m%n'. The thread is padded to
        # exactly 15 characters: it tells the thread's brackets from the application's
        # (3.2+) before it and the correlation id's (3.2+) after it.
        r"^(?P<time>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?"
        r"(?:Z|[+-]\d{2}:?\d{2})?) +(?P<level>" + _LEVELS + r") +(?:(?P<pid>\d+) +)?--- +"
        r"(?:\[(?P<application>[^\]\n]*)\] )?(?:\[(?P<application_group>[^\]\n]*)\] )?"
        r"\[(?P<thread>[^\]\n]{15})\] +(?:\[(?P<correlation>[^\]\n]*)\] *)?"
        r"(?P<logger>[^\s\[\]]+) +:(?: |$)(?P<message>(?s:.*))$",
        ints=("pid",),
        time="time",
        time_formats=("iso8601", *_LOG4J_FORMATS),
        optional=("pid", "application", "application_group", "correlation"),
        padded=("thread", "correlation"),
        multiline_start=r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}",
        description="Spring Boot's default logback layout (2.x and 3.x: ISO time with its "
        "offset, PID, '---', application name, thread, correlation id, logger ' : ')",
        example="2023-11-14T10:15:30.123+01:00  INFO 12345 --- [demo] [           main] "
        "c.e.DemoApplication                      : Started DemoApplication in 2.1 seconds",
    ),
    "cri": Preset(
        "cri",
        r"^(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(?P<time_nanos>\d{1,9}))?"
        r"(?:Z|[+-]\d{2}:\d{2})) (?P<stream>stdout|stderr) (?P<tag>[PF](?::\S*)?)"
        r"(?: (?P<message>(?s:.*)))?$",
        ints=("time_nanos",),
        time="time",
        time_formats=("iso8601",),
        nanos="time_nanos",
        partials=Partials(
            above="^" + _RFC3339_NANO + r" (?:stdout|stderr) P(?::\S*)?(?: |$)",
            below="^" + _RFC3339_NANO + r" (?:stdout|stderr) [PF](?::\S*)?(?: |$)",
            tag="tag",
            partial=r"^P(?::|$)",
            piece="message",
            last=("tag",),
            same=("stream",),
        ),
        description="Kubernetes CRI container log (containerd, CRI-O: /var/log/pods): "
        "RFC 3339 time to the nanosecond, stream, tag (P: a partial line, joined with the "
        "lines up to its F), message",
        example="2026-12-07T10:00:00.123456789Z stdout F GET /healthz 200",
    ),
    "aws-alb": Preset(
        "aws-alb",
        # Fields are added at the end over the years (AWS: ignore the ones you do not
        # expect): each group of later ones is optional, and what follows the last known
        # one is kept in `more`. A target list is quoted, or bare when it holds one target.
        r"^(?P<type>[a-z0-9]+) (?P<time>" + _RFC3339_NANO + r") (?P<elb>\S+) "
        r"(?P<client_ip>\S+):(?P<client_port>\d+) (?:(?P<target_ip>\S+):(?P<target_port>\d+)|-) "
        r"(?P<request_processing_time>-?\d+(?:\.\d+)?) "
        r"(?P<target_processing_time>-?\d+(?:\.\d+)?) "
        r"(?P<response_processing_time>-?\d+(?:\.\d+)?) (?P<elb_status_code>\d{3}|-) "
        r"(?P<target_status_code>\d{3}|-) (?P<received_bytes>\d+|-) (?P<sent_bytes>\d+|-) "
        r'"(?P<request>(?P<method>[A-Z][A-Z_-]*) (?P<url>(?:[^"\\]|\\.)*) '
        r'(?P<protocol>[A-Z][A-Z0-9]*/[0-9.]+|-)|(?:[^"\\]|\\.)*)" '
        r'"(?P<user_agent>(?:[^"\\]|\\.)*)" (?P<ssl_cipher>\S+) (?P<ssl_protocol>\S+) '
        r'(?P<target_group_arn>\S+) "(?P<trace_id>[^"]*)"'
        r'(?: "(?P<domain_name>[^"]*)" "(?P<chosen_cert_arn>[^"]*)" '
        r"(?P<matched_rule_priority>\d+|-) (?P<request_creation_time>\S+) "
        r'"(?P<actions_executed>[^"]*)" "(?P<redirect_url>(?:[^"\\]|\\.)*)"'
        r'(?: "(?P<error_reason>[^"]*)" (?:"(?P<target_port_list>[^"]*)"|'
        r'(?P<target_port_list_bare>\S+)) (?:"(?P<target_status_code_list>[^"]*)"|'
        r"(?P<target_status_code_list_bare>\S+))"
        r'(?: "(?P<classification>[^"]*)" "(?P<classification_reason>[^"]*)"'
        r"(?: (?P<conn_trace_id>TID_\S+|-))?)?)?)?(?: (?P<more>.*))?$",
        ints=(
            "client_port",
            "target_port",
            "elb_status_code",
            "target_status_code",
            "received_bytes",
            "sent_bytes",
            "matched_rule_priority",
        ),
        floats=("request_processing_time", "target_processing_time", "response_processing_time"),
        no_number=("-", "-1"),
        time="time",
        time_formats=("iso8601",),
        optional=(
            "target_ip",
            "method",
            "url",
            "protocol",
            "user_agent",
            "ssl_cipher",
            "ssl_protocol",
            "target_group_arn",
            "trace_id",
            "domain_name",
            "chosen_cert_arn",
            "request_creation_time",
            "actions_executed",
            "redirect_url",
            "error_reason",
            "target_port_list",
            "target_port_list_bare",
            "target_status_code_list",
            "target_status_code_list_bare",
            "classification",
            "classification_reason",
            "conn_trace_id",
            "more",
        ),
        nil="-",
        alternates=(
            ("target_port_list", "target_port_list_bare"),
            ("target_status_code_list", "target_status_code_list_bare"),
        ),
        description="AWS Application Load Balancer access log: type, time (ISO 8601, UTC), "
        "elb, client and target ip:port, the three processing times in seconds (-1, never "
        "measured, is null), status codes, bytes, request, user agent, TLS, target group, "
        "trace, rule and later fields; '-' is null, fields AWS adds later are kept in `more`",
        example="https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 "
        "192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "
        '"GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 '
        "TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/"
        '73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" '
        '"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" '
        '1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" '
        '"-" "-" TID_1234abcd5678ef90',
    ),
    "aws-s3": Preset(
        "aws-s3",
        # The fields after the user agent came over the years (version id, host id,
        # signature, cipher, auth type, host header, TLS, access point, ACL required, source
        # region): each optional, what follows the last known one kept in `more`.
        r"^(?P<bucket_owner>\S+) (?P<bucket>\S+) \[(?P<time>[^\]]+)\] (?P<remote_ip>\S+) "
        r"(?P<requester>\S+) (?P<request_id>\S+) (?P<operation>\S+) (?P<key>\S+) "
        r'"(?P<request_uri>(?:[^"\\]|\\.)*)" (?P<http_status>\d{3}|-) (?P<error_code>\S+) '
        r"(?P<bytes_sent>\d+|-) (?P<object_size>\d+|-) (?P<total_time>\d+|-) "
        r'(?P<turn_around_time>\d+|-) "(?P<referer>(?:[^"\\]|\\.)*)" '
        r'"(?P<user_agent>(?:[^"\\]|\\.)*)"'
        r"(?: (?P<version_id>\S+)(?: (?P<host_id>\S+) (?P<signature_version>\S+) "
        r"(?P<cipher_suite>\S+) (?P<authentication_type>\S+) (?P<host_header>\S+) "
        r"(?P<tls_version>\S+)(?: (?P<access_point_arn>\S+)(?: (?P<acl_required>\S+)"
        r"(?: (?P<source_region>\S+))?)?)?)?)?(?: (?P<more>.*))?$",
        ints=("http_status", "bytes_sent", "object_size", "total_time", "turn_around_time"),
        time="time",
        time_formats=("%d/%b/%Y:%H:%M:%S %z",),
        optional=(
            "remote_ip",
            "requester",
            "request_id",
            "key",
            "request_uri",
            "error_code",
            "referer",
            "user_agent",
            "version_id",
            "host_id",
            "signature_version",
            "cipher_suite",
            "authentication_type",
            "host_header",
            "tls_version",
            "access_point_arn",
            "acl_required",
            "source_region",
            "more",
        ),
        nil="-",
        description="Amazon S3 server access log: bucket owner, bucket, [time], remote ip, "
        "requester, request id, operation, key, request URI, status, error code, bytes, "
        "times in ms, referer, user agent and the fields added since; '-' is null",
        example="79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be "
        "amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 "
        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE "
        'REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - '
        '"-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/'
        "XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader "
        "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 "
        "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes us-east-1",
    ),
}


@dataclasses.dataclass(frozen=True)
class TextFormat:
    """How text records are cut and parsed: a pattern (with preset types) and a start regex."""

    pattern: str | None
    label: str
    preset: Preset | None
    multiline_start: str | None
    group_names: tuple[str, ...]
    alike: tuple[str, ...] = ()
    """Presets that parse the records ``--format auto`` chose this one by as well, with other
    columns (:func:`choose_preset`): the report says so."""
    chosen: bool = False
    """The preset was chosen by ``--format auto`` (:func:`choose_preset`), not given."""

    @property
    def time_formats(self) -> tuple[str | tuple[str, ...], ...]:
        """How the preset's time is read: its own layouts when the preset was given (it
        names them: Spark's yy/MM/dd), else each as one of its
        :data:`~ingest.logs.eventtime.DATE_ORDERS` group. A preset is chosen by the shape
        of the lines, and a European dd/MM/yy log4j layout writes the shape of Spark's:
        read as yy/MM/dd, ``07/12/26`` became 2007-12-26 with no error."""
        own = self.preset.time_formats if self.preset is not None else ()
        return tuple(date_orders(f) for f in own) if self.chosen else own

    @property
    def partials(self) -> Partials | None:
        return self.preset.partials if self.preset is not None else None

    @property
    def start_given(self) -> str | None:
        """The multi-line start given with ``--multiline-start`` (None: none, or the preset's
        own): it cuts the records of a preset ``--format auto`` chooses too."""
        own = self.preset.multiline_start if self.preset is not None else None
        return self.multiline_start if self.multiline_start != own else None

    @property
    def type(self) -> inf.Struct:
        fields = []
        hidden = {g for _, g in self.preset.alternates} if self.preset else set()
        for g in self.group_names:
            if g in hidden:
                continue
            t = inf.STRING
            if self.preset and g in self.preset.ints:
                t = inf.INT
            elif self.preset and g in self.preset.floats:
                t = inf.FLOAT
            elif self.preset and g == self.preset.time:
                t = inf.TIMESTAMP
            fields.append((g, t))
        return inf.Struct(tuple(fields))


def presets_with_columns(columns: set[str]) -> list[str]:
    """The presets whose columns are exactly ``columns`` (a table's data columns)."""
    return [name for name in PRESETS if set(_columns(name)) == columns]


def text_format(
    *, pattern: str | None, preset: str | None, multiline_start: str | None
) -> TextFormat:
    """Check the options once, before any file is read. Raises LogFormatError."""
    if pattern and preset:
        raise LogFormatError("Give either --pattern or --preset, not both.")
    p = None
    if preset:
        p = PRESETS.get(preset)
        if p is None:
            raise LogFormatError(
                f"Unknown log preset '{preset}'; use one of: {', '.join(sorted(PRESETS))}."
            )
        pattern = p.pattern
    groups: tuple[str, ...] = ()
    if pattern:
        try:
            groups = tuple(re.compile(pattern).groupindex)
        except re.error as e:
            raise LogFormatError(f"The pattern '{pattern}' is not a valid regex: {e}.") from e
        if not groups:
            raise LogFormatError(
                f"The pattern '{pattern}' has no named group; name the parts to keep, e.g. "
                "(?P<status>\\d+)."
            )
    start = multiline_start or (p.multiline_start if p else None)
    if start:
        try:
            re.compile(start)
        except re.error as e:
            raise LogFormatError(f"The --multiline-start regex '{start}' is not valid: {e}.") from e
    label = f"preset '{preset}'" if preset else "the pattern"
    return TextFormat(pattern, label, p, start, groups)


# ---------------------------------------------------------------------------------------
# Multi-line records


class RecordAssembler:
    """Joins continuation lines onto the record they belong to, across chunks.

    Without a start regex every non-blank line is a record. With one, a record starts at a
    line the regex matches (searched) and takes every following line that does not; lines
    before the first start form a record of their own. With ``partials`` (a preset's
    :class:`Partials`), a line that continues a partial line above it starts no record.
    """

    def __init__(self, start: str | None, partials: Partials | None = None) -> None:
        self.start = start
        self.partials = partials
        self._py = None
        if start:
            try:
                pc.match_substring_regex(pa.array([""]), start)
            except pa.ArrowInvalid:
                self._py = re.compile(start)
        self._lines: pa.StringArray | None = None  # held back: the last, maybe unfinished, record
        self._numbers: list[int] = []

    def feed(
        self, lines: pa.StringArray, numbers: list[int], blank: pa.BooleanArray
    ) -> tuple[pa.StringArray, list[int], list[str | None] | None]:
        """Complete records from these lines: texts, first line numbers, errors (or None)."""
        if not self.start:
            keep = pc.invert(blank)
            if not pc.all(keep).as_py():
                lines = lines.filter(keep)
                numbers = [n for n, k in zip(numbers, keep.to_pylist(), strict=True) if k]
            if self.partials is None:
                return lines, numbers, None
        if self._lines is not None and len(self._lines):
            lines = pa.concat_arrays([self._lines, lines])
            numbers = self._numbers + list(numbers)
        starts = self._starts(lines)
        idx = pc.indices_nonzero(starts).to_pylist()
        if not idx or idx[0] != 0:
            idx = [0, *idx]
        self._lines, self._numbers = lines.slice(idx[-1]), numbers[idx[-1] :]
        return self._join(lines, numbers, idx, idx[-1])

    def flush(self) -> tuple[pa.StringArray, list[int], list[str | None] | None]:
        if self._lines is None or not len(self._lines):
            return array([], pa.string()), [], None
        lines, numbers = self._lines, self._numbers
        self._lines, self._numbers = None, []
        return self._join(lines, numbers, [0], len(lines))

    def unfinished(self) -> int | None:
        """The first line number of the record held for lines not read yet when that record
        may go on in them (a trace under a multi-line start always may; with partials only,
        a record whose last line is partial), else None."""
        if self._lines is None or not len(self._lines):
            return None
        if not self.start:
            assert self.partials is not None
            last = self._lines[len(self._lines) - 1].as_py()
            if last is None or re.search(self.partials.above, last) is None:
                return None
        return self._numbers[0]

    def starts(self, lines: pa.StringArray) -> pa.BooleanArray:
        """Which of ``lines`` start a record."""
        return self._starts(lines)

    def _starts(self, lines: pa.StringArray) -> pa.BooleanArray:
        if not self.start:
            starts = pc.fill_null(pc.is_valid(lines), TRUE)
        elif self._py is not None:
            starts = pa.array([bool(self._py.search(s)) for s in lines.to_pylist()], pa.bool_())
        else:
            starts = pc.fill_null(pc.match_substring_regex(lines, self.start), FALSE)
        if self.partials is None or len(lines) < 2:
            return starts
        above = pc.fill_null(pc.match_substring_regex(lines, self.partials.above), FALSE)
        below = pc.fill_null(pc.match_substring_regex(lines, self.partials.below), FALSE)
        # Line i goes on from line i - 1 when that one is partial and this one is of its layout.
        goes_on = pc.and_(
            pa.concat_arrays([array([False], pa.bool_()), above.slice(0, len(lines) - 1)]), below
        )
        return pc.and_(starts, pc.invert(goes_on))

    def _join(
        self, lines: pa.StringArray, numbers: list[int], idx: list[int], end: int
    ) -> tuple[pa.StringArray, list[int], list[str | None] | None]:
        bounds: list[int] = []
        errors: list[str | None] = []
        for a, b in zip(idx, [*idx[1:], end], strict=True):
            if a >= b:
                continue
            while b - a > MAX_RECORD_LINES:
                bounds.append(a)
                errors.append(RECORD_CUT_ERROR)
                a += MAX_RECORD_LINES
            bounds.append(a)
            errors.append(None)
        if not bounds:
            return array([], pa.string()), [], None
        offsets = pa.array([*bounds, end], pa.int32())
        joined = pc.binary_join(pa.ListArray.from_arrays(offsets, lines), "\n")
        firsts = [numbers[a] for a in bounds]
        return joined, firsts, errors if any(errors) else None


# ---------------------------------------------------------------------------------------
# Parsing records


def parse_text(
    records: pa.StringArray,
    fmt: TextFormat,
    *,
    year: int | None = None,
    times: EventTimeParser | None = None,
    year_base: datetime | None = None,
    texts: dict[str, pa.Array] | None = None,
    time_notes: list[str | None] | None = None,
) -> tuple[pa.Table, list[str | None] | None]:
    """Columns of the format's named groups, and an error for each record that did not match.

    A preset's time group is read by ``times`` (:mod:`ingest.logs.eventtime`; a parser with
    ``year`` is made when none is given), the year of a year-less time from ``year_base``.
    ``texts``, when given, receives each group's text (null where the record did not match);
    ``time_notes`` the ``_error`` of each time read as different dates by the layouts of a
    chosen preset (:attr:`TextFormat.time_formats`), or nothing when none is.
    Many records are parsed in slices side by side (:data:`PARALLEL_RECORDS`); such layouts
    are read after them, in the file's order (their choice rests on consecutive times).
    """
    if not fmt.pattern:
        return pa.Table.from_batches([], schema=pa.schema([])), None
    own = times is None
    parser = times if times is not None else EventTimeParser(TimeRules(year=year))
    formats = parser.rules.formats or fmt.time_formats  # --time-format overrides
    # (a time split over groups, HDFS's, is read after parsing: stage.py reads it whole)
    whole = (
        fmt.preset is not None
        and fmt.preset.time is not None
        and any(isinstance(f, tuple) for f in formats)
    )
    try:
        n = len(records)
        slices = min(os.cpu_count() or 1, n // PARALLEL_RECORDS)
        if slices < 2:
            typed, found, matched = _parse_slice(records, fmt, parser, year_base, not whole)
        else:
            step = -(-n // slices)
            pieces = list(
                _threads().map(
                    lambda start: _parse_slice(
                        records.slice(start, step), fmt, parser, year_base, not whole
                    ),
                    range(0, n, step),
                )
            )
            typed = [pa.concat_arrays(cs) for cs in zip(*(t for t, _, _ in pieces), strict=True)]
            # A string group's column is its text: joined once (the texts are most of a
            # chunk's bytes, and joining them twice was a fifth of the parsing thread).
            same = {
                g: c for (g, t), c in zip(fmt.type.fields, typed, strict=True) if t == inf.STRING
            }
            for target, _ in fmt.preset.alternates if fmt.preset else ():
                same.pop(target, None)
            found = {
                g: same[g] if g in same else pa.concat_arrays([f[g] for _, f, _ in pieces])
                for g in fmt.group_names
            }
            matched = pa.concat_arrays([m for _, _, m in pieces])
        if whole:
            at = [g for g, _ in fmt.type.fields].index(fmt.preset.time)  # type: ignore[union-attr]
            typed[at], notes = parser.parse_noted(typed[at], formats=formats, year_base=year_base)
            if time_notes is not None and notes is not None:
                time_notes.extend(notes)
    finally:
        if own:
            parser.close()
    errors = None
    if matched.false_count:
        reason = f"did not match {fmt.label}"
        errors = [None] * len(matched)
        for i in pc.indices_nonzero(pc.invert(matched)).to_pylist():
            errors[i] = reason
            if fmt.partials is not None and fmt.pattern == fmt.preset.pattern:  # type: ignore[union-attr]
                errors[i] = _mixed_partials(records[i].as_py(), fmt) or reason
    if texts is not None:
        texts.update(found)
    fields = [inf.arrow_field(g, t) for g, t in fmt.type.fields]
    return pa.Table.from_arrays(typed, schema=pa.schema(fields)), errors


def part_notes(fmt: TextFormat, texts: dict[str, pa.Array]) -> list[str | None] | None:
    """The ``_error`` note of each record parsed with a remark (None where there is none, or
    when no record has one): its preset's :class:`Parts` whole holds text that split into
    none of its parts, or it ends with a partial line (:class:`Partials`); ``texts`` as
    :func:`parse_text` fills them."""
    split = fmt.preset.parts if fmt.preset is not None else None
    if split is None:
        return _partial_notes(fmt, texts)
    whole = texts[split.whole]
    unsplit = pc.and_(
        pc.invert(pc.fill_null(pc.is_in(whole, value_set=array(split.nil, pa.string())), TRUE)),
        functools.reduce(pc.and_, [pc.is_null(texts[g]) for g in split.parts]),
    )
    if not pc.any(unsplit).as_py():
        return None
    notes: list[str | None] = [None] * len(whole)
    for i in pc.indices_nonzero(unsplit).to_pylist():
        notes[i] = split.note(whole[i].as_py())
    return notes


def _partial_notes(fmt: TextFormat, texts: dict[str, pa.Array]) -> list[str | None] | None:
    """A note for each record that ends with a partial line (:class:`Partials`)."""
    split = fmt.partials
    if split is None or split.tag not in texts:
        return None
    open_ = pc.fill_null(pc.match_substring_regex(texts[split.tag], split.partial), FALSE)
    if not pc.any(open_).as_py():
        return None
    notes: list[str | None] = [None] * len(open_)
    for i in pc.indices_nonzero(open_).to_pylist():
        notes[i] = split.note()
    return notes


PARALLEL_RECORDS = 16_384
"""Records from which a text chunk is parsed on several threads, in slices of at least this
many.

The regex is most of a text ingest (py-spy of 1M Apache lines: RE2's submatch search was 59%
of staging, reading the time 11%, all on the one parsing thread) and Arrow's RE2 kernel and
DuckDB release the GIL, so the slices run side by side, as DuckDB's ``regexp_extract`` does
on its threads."""

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _threads() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=os.cpu_count() or 1, thread_name_prefix="lake-text-parse"
            )
        return _pool


def _parse_slice(
    records: pa.StringArray,
    fmt: TextFormat,
    parser: EventTimeParser,
    year_base: datetime | None,
    read_time: bool = True,
) -> tuple[list[pa.Array], dict[str, pa.Array], pa.BooleanArray]:
    """One slice: its typed columns (those of ``fmt.type``), each group's text, which
    records matched; the time left as text unless ``read_time``."""
    columns, matched = _extract(records, fmt)
    p = fmt.preset
    typed = []
    for g, t in fmt.type.fields:
        col = columns[g]
        if p is not None:
            for target, alt in p.alternates:
                if target == g:
                    col = pc.coalesce(col, columns[alt])
        if t == inf.INT:
            if p is not None and g == p.nanos:
                # '5' of '.5' is 500000000 ns; no fraction written is 0
                col = pc.utf8_rpad(col, width=9, padding="0")
            for nil in p.no_number if p is not None else ("-",):
                col = _empty_to_null(col, nil)
            col = pc.cast(col, pa.int64())
        elif t == inf.FLOAT:
            assert p is not None
            for nil in p.no_number:
                col = _empty_to_null(col, nil)
            col = pc.cast(col, pa.float64())
        elif t == inf.TIMESTAMP and read_time:
            assert p is not None
            formats = parser.rules.formats or fmt.time_formats  # --time-format overrides
            col = parser.parse(col, formats=formats, year_base=year_base)
        typed.append(col)
    return typed, columns, matched


def _extract(
    records: pa.StringArray, fmt: TextFormat
) -> tuple[dict[str, pa.Array], pa.BooleanArray]:
    """Each named group's text (null where the record did not match; a preset's optional
    group null where empty or nil) and which records matched."""
    splitter = _SPLITTERS.get(fmt.preset.name) if fmt.preset is not None else None
    if splitter is not None and fmt.pattern == fmt.preset.pattern:  # type: ignore[union-attr]
        columns, matched = splitter.extract(records, lambda rest: _regex(rest, fmt))
    else:
        columns, matched = _regex(records, fmt)
    reread = _REREADS.get(fmt.preset.name) if fmt.preset is not None else None
    if reread is not None and fmt.pattern == fmt.preset.pattern:  # type: ignore[union-attr]
        columns, matched = reread.apply(records, columns, matched, fmt)
    if fmt.partials is not None and fmt.pattern == fmt.preset.pattern:  # type: ignore[union-attr]
        columns, matched = _join_partials(records, columns, matched, fmt)
    p = fmt.preset
    if p is not None:
        for g in p.padded:
            columns[g] = pc.utf8_trim(columns[g], characters=" ")
        columns = {
            g: _empty_to_null(c, p.nil) if g in p.optional else c for g, c in columns.items()
        }
    return columns, matched


def _regex(records: pa.StringArray, fmt: TextFormat) -> tuple[dict[str, pa.Array], pa.BooleanArray]:
    try:
        extracted = pc.extract_regex(records, fmt.pattern)
    except pa.ArrowInvalid:
        return _python_extract(records, fmt)
    # flatten() carries the struct's nulls (records that did not match) into each field.
    named = dict(zip((f.name for f in extracted.type), extracted.flatten(), strict=True))
    return {g: named[g] for g in fmt.group_names}, extracted.is_valid()


@dataclasses.dataclass(frozen=True)
class _Splitter:
    """The groups of an access-log preset by splitting at its delimiters, for the records a
    strict regex accepts; the preset's own regex reads the others.

    RE2 finds submatches with a backtracker (more than four groups rule out its one-pass
    engine): 2 CPU-s of 1M Apache lines, against 0.3 s to test the strict regex (a DFA, no
    groups) and about 0.8 s to split. The strict regex admits only records whose split is
    the preset's own parse: no field holds a delimiter (space, quote, bracket, backslash) it
    could be cut at, every group takes part, nothing follows the agent's closing quote.
    ``tests/ingest/logs/test_textlogs.py`` holds both ways to each other on odd records.
    """

    strict: str
    head: tuple[str | None, ...]
    """The groups before the time, space-separated (None: a literal such as nginx's '-')."""

    def extract(
        self,
        records: pa.StringArray,
        regex: Callable[[pa.StringArray], tuple[dict[str, pa.Array], pa.BooleanArray]],
    ) -> tuple[dict[str, pa.Array], pa.BooleanArray]:
        n = len(records)
        strict = pc.fill_null(pc.match_substring_regex(records, self.strict), FALSE)
        k = strict.true_count
        if k == n:
            return self._split(records), strict
        if k < n // 2:
            return regex(records)
        rest = pc.invert(strict)
        fast = self._split(records.filter(strict))
        slow, slow_matched = regex(records.filter(rest))
        # Back to the records' order: position i of the joined columns came from order[i].
        order = pa.concat_arrays([pc.indices_nonzero(strict), pc.indices_nonzero(rest)])
        back = pc.sort_indices(order)
        columns = {g: pc.take(pa.concat_arrays([fast[g], slow[g]]), back) for g in fast}
        matched = pc.take(pa.concat_arrays([strict.filter(strict), slow_matched]), back)
        return columns, matched

    def _split(self, records: pa.StringArray) -> dict[str, pa.Array]:
        # 'H1 H2 H3 [time] "method path protocol" status bytes "referrer" "agent"'
        parts = pc.split_pattern(records, '"')
        head = pc.split_pattern(_element(parts, 0), " ", max_splits=len(self.head))
        request = pc.split_pattern(_element(parts, 1), " ", max_splits=2)
        middle = pc.split_pattern(_element(parts, 2), " ")
        out = {g: _element(head, i) for i, g in enumerate(self.head) if g is not None}
        out["time"] = pc.utf8_slice_codeunits(_element(head, len(self.head)), 1, -2)
        out["request"] = _element(parts, 1)
        for i, g in enumerate(("method", "path", "protocol")):
            out[g] = _element(request, i)
        out["status"] = _element(middle, 1)
        out["bytes"] = _element(middle, 2)
        out["referrer"] = _element(parts, 3)
        out["agent"] = _element(parts, 5)
        return out


_FIELD = r'[^\s"\[\]\\]+'
_STRICT_TAIL = (
    r' \[[^\]"\\]+\] "[A-Z][A-Z_-]* [^" \\]* HTTP/\d+(?:\.\d+)?" (?:\d{3}|-) (?:\d+|-) '
    r'"[^"\\]*" "[^"\\]*"$'
)
_SPLITTERS = {
    "apache-combined": _Splitter(
        "^" + " ".join([_FIELD] * 3) + _STRICT_TAIL, ("client_ip", "ident", "auth")
    ),
    "nginx-combined": _Splitter(
        "^" + _FIELD + " - " + _FIELD + _STRICT_TAIL, ("client_ip", None, "remote_user")
    ),
}


@dataclasses.dataclass(frozen=True)
class _Reread:
    """Records whose ``groups`` hold a text ``words`` matches whole are read again by
    ``pattern``, which says what RE2 (no look-around) cannot: a syslog line's level word is
    no host or program (`2026-12-07T10:00:00Z ERROR detail`, an application's line in a
    syslog file, had `host` 'ERROR'). Python's ``re`` reads those few records only."""

    groups: tuple[str, ...]
    words: str
    pattern: str

    def apply(
        self,
        records: pa.StringArray,
        columns: dict[str, pa.Array],
        matched: pa.BooleanArray,
        fmt: TextFormat,
    ) -> tuple[dict[str, pa.Array], pa.BooleanArray]:
        hits = [pc.match_substring_regex(columns[g], self.words) for g in self.groups]
        again = pc.fill_null(functools.reduce(pc.or_kleene, hits), FALSE)
        if not pc.any(again).as_py():
            return columns, matched
        strict = dataclasses.replace(fmt, pattern=self.pattern)
        fixed, fixed_matched = _python_extract(records.filter(again), strict)
        columns = {
            g: pc.replace_with_mask(c, again, fixed[g].cast(c.type)) for g, c in columns.items()
        }
        return columns, pc.replace_with_mask(matched, again, fixed_matched)


_REREADS = {
    "syslog": _Reread(
        ("host", "program"), "^" + _APP_WORDS + "$", _syslog_pattern(app_words=False)
    ),
}


def mend_split_characters(
    lines: pa.StringArray, raw: dict[int, bytes], fmt: TextFormat
) -> pa.StringArray:
    """UTF-8 lines of a chunk with the characters a writer cut between a partial line and
    the line going on from it made whole again (the bytes that end such a character moved
    to the partial line's end), those lines taken out of ``raw`` (their original bytes, by
    index: lines that are no UTF-8); nothing changes unless that leaves every line it
    touches UTF-8.

    A runtime cuts a long line after 16 KiB of bytes (CRI), inside a character when one
    spans the cut: each piece alone is no UTF-8, the line they make is. ``_raw`` shows such
    a character at the end of the partial line, whole."""
    split = fmt.partials
    if split is None or len(raw) < 2:
        return lines
    rx = re.compile(fmt.pattern or "")
    data = dict(raw)
    touched: set[int] = set()
    for i in sorted(raw):
        if i + 1 not in data:
            continue
        head, tail = data[i], data[i + 1]
        above, below = lines[i].as_py() or "", lines[i + 1].as_py() or ""
        if not re.search(split.above, above) or not re.search(split.below, below):
            continue
        found = rx.search(below)
        need = _missing_continuation(head)
        if not need or found is None or found.start(split.piece) < 0:
            continue
        start = found.start(split.piece)
        prefix = below[:start].encode("utf-8", "surrogateescape")
        moved = tail[start : start + need]
        if tail[:start] != prefix or len(moved) != need or any(b & 0xC0 != 0x80 for b in moved):
            continue
        data[i], data[i + 1] = head + moved, prefix + tail[start + need :]
        touched.update((i, i + 1))
    if not touched:
        return lines
    texts = lines.to_pylist()
    try:
        for i in touched:
            texts[i] = data[i].decode("utf-8")
    except UnicodeDecodeError:
        return lines  # another byte that is no UTF-8: every line kept as it was, and said
    for i in touched:
        del raw[i]
    return array(texts, pa.string())


def _missing_continuation(data: bytes) -> int:
    """How many bytes the UTF-8 character ``data`` ends inside lacks (0: it ends whole)."""
    for k in range(1, min(4, len(data)) + 1):
        byte = data[-k]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: the lead is further back
        if byte < 0xC0:
            return 0
        length = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
        return length - k if length > k else 0
    return 0


def _join_partials(
    records: pa.StringArray,
    columns: dict[str, pa.Array],
    matched: pa.BooleanArray,
    fmt: TextFormat,
) -> tuple[dict[str, pa.Array], pa.BooleanArray]:
    """The groups of records of several lines (a partial line and the lines that end it,
    :class:`Partials`), each line parsed on its own by Python's ``re``; the few such records
    only (a line split by its writer is one over 16 KiB)."""
    split = fmt.partials
    assert split is not None
    joined = pc.fill_null(pc.match_substring(records, "\n"), FALSE)
    if not pc.any(joined).as_py():
        return columns, matched
    rx = re.compile(fmt.pattern or "")
    fixed: dict[str, list[str | None]] = {g: [] for g in fmt.group_names}
    ok: list[bool] = []
    for record in records.filter(joined).to_pylist():
        found = [rx.search(line) for line in record.split("\n")]
        whole = all(m is not None for m in found) and all(
            len({m.group(g) for m in found if m is not None}) == 1 for g in split.same
        )
        ok.append(whole)
        for g in fmt.group_names:
            if not whole:
                fixed[g].append(None)
            elif g == split.piece:
                fixed[g].append("".join(m.group(g) or "" for m in found if m is not None))
            else:
                m = found[-1] if g in split.last else found[0]
                fixed[g].append((m.group(g) or "") if m is not None else None)
    columns = {
        g: pc.replace_with_mask(c, joined, pa.array(fixed[g], pa.string()).cast(c.type))
        for g, c in columns.items()
    }
    return columns, pc.replace_with_mask(matched, joined, pa.array(ok, pa.bool_()))


def _mixed_partials(record: str | None, fmt: TextFormat) -> str | None:
    """Why a record of a partial line and the lines after it failed when each line is read
    alone but their ``same`` groups differ (a stdout piece ended by a stderr line); None
    when that is not why."""
    split = fmt.partials
    if split is None or record is None or "\n" not in record:
        return None
    rx = re.compile(fmt.pattern or "")
    found = [rx.search(line) for line in record.split("\n")]
    if any(m is None for m in found):
        return None
    for g in split.same:
        values = list(dict.fromkeys(m.group(g) for m in found if m is not None))
        if len(values) > 1:
            return (
                f"a partial line of {g} {values[0]} goes on in a line of {g} "
                f"{values[1]}: no one record ({split.piece} is null; the lines are in _raw "
                "as written)"
            )
    return None


def _element(lists: pa.Array, index: int) -> pa.Array:
    """``pc.list_element`` with the index as an Arrow scalar (a Python int makes pyarrow
    import pandas, ``lake.core.arrow_values``)."""
    return pc.list_element(lists, scalar(index, pa.int64()))


def _empty_to_null(col: pa.Array, nil: str = "") -> pa.Array:
    keep = pc.greater(pc.binary_length(col), scalar(0, pa.int64()))
    if nil:
        keep = pc.and_(keep, pc.not_equal(col, scalar(nil, pa.string())))
    keep = pc.fill_null(keep, FALSE)
    if pc.all(keep).as_py():
        return col
    if col.offset == 0 and keep.offset == 0 and isinstance(col, pa.StringArray):
        # Only the validity changes: the texts' buffers are shared, not copied.
        return pa.Array.from_buffers(col.type, len(col), [keep.buffers()[1], *col.buffers()[1:]])
    return pc.if_else(keep, col, pa.scalar(None, col.type))


def _python_extract(
    records: pa.StringArray, fmt: TextFormat
) -> tuple[dict[str, pa.Array], pa.BooleanArray]:
    rx = re.compile(fmt.pattern or "")
    cols: dict[str, list[str | None]] = {g: [] for g in fmt.group_names}
    matched = []
    for s in records.to_pylist():
        m = rx.search(s) if s is not None else None
        matched.append(m is not None)
        for g in fmt.group_names:
            cols[g].append((m.group(g) or "") if m else None)
    return {g: pa.array(v, pa.string()) for g, v in cols.items()}, pa.array(matched, pa.bool_())


def looks_like_json(sample: bytes) -> bool:
    """Auto-detection: the first non-blank line starts with ``{``."""
    for line in sample.split(b"\n"):
        s = line.strip().lstrip(b"\xef\xbb\xbf").strip()
        if s:
            return s.startswith(b"{")
    return True


# ---------------------------------------------------------------------------------------
# Choosing a preset (--format auto on a text file without --pattern or --preset)

AUTO_SAMPLE_LINES = 200
"""Lines of a file's head that ``--format auto`` tries every preset on."""
AUTO_MIN_RATE = 0.8
"""The share of sampled records a preset must parse to be chosen (a clear majority)."""


@dataclasses.dataclass(frozen=True)
class PresetScore:
    name: str
    records: int
    parsed: int

    @property
    def rate(self) -> float:
        return self.parsed / self.records if self.records else 0.0


def score_presets(lines: list[str]) -> list[PresetScore]:
    """How well each preset parses these lines (cut into its own multi-line records), best
    first; ties keep the order of :data:`PRESETS`."""
    scores = []
    for p in PRESETS.values():
        rx = re.compile(p.pattern)
        records: list[str] = []
        start = re.compile(p.multiline_start) if p.multiline_start else None
        above = re.compile(p.partials.above) if p.partials else None
        below = re.compile(p.partials.below) if p.partials else None
        for i, line in enumerate(lines):
            goes_on = (
                above is not None
                and below is not None
                and i > 0
                and bool(above.search(lines[i - 1]))
                and bool(below.search(line))
            )
            if records and (goes_on or (start is not None and not start.search(line))):
                records[-1] += "\n" + line
            else:
                records.append(line)
        sure = re.compile(p.auto_check) if p.auto_check else None
        parsed = sum(1 for r in records if rx.search(r) and (sure is None or sure.search(r)))
        scores.append(PresetScore(p.name, len(records), parsed))
    order = {name: i for i, name in enumerate(PRESETS)}
    return sorted(scores, key=lambda s: (-s.rate, order[s.name]))


def choose_preset(
    lines: list[str], *, where: str, multiline_start: str | None = None
) -> TextFormat | None:
    """The preset that parses a clear majority of ``lines`` (of several, the best rate among
    those parsing at least half the most records), or None when no preset parses any of
    them (plain text: its lines are kept unparsed, as with ``--format text``).

    ``multiline_start``: the one the user gave; it cuts the chosen preset's records instead
    of the preset's own (what they asked for). The choice is made with the presets' own.

    Raises LogFormatError naming the best three (with their parse rates) when some preset
    parses some records but none a clear majority: a log of a known family read with the
    wrong layout would land with most of its records failed.
    """
    sample = [s for s in lines if s.strip()][:AUTO_SAMPLE_LINES]
    scores = score_presets(sample)
    best = scores[0] if scores else None
    if best is None or best.parsed == 0:
        return None
    if best.rate < AUTO_MIN_RATE:
        listed = ", ".join(f"{s.name} {s.rate:.0%}" for s in scores[:3])
        raise LogFormatError(
            f"No log preset parses '{where}' (best on its first {len(sample)} lines: {listed}); "
            "give --preset or --pattern, or --format text to keep its lines unparsed."
        )
    # A rate alone favours a preset whose multi-line start matches only the first line: the
    # rest is its continuation, one record parsed of one. A count alone favours a preset
    # whose start also matches lines inside another's records (a Java log passing on a
    # Python child's logging lines: python parsed 40 of 41, log4j 20 of 20, and the log4j
    # lines landed inside Python messages). Of the presets that parse a clear majority and
    # at least half the most records any of them parses, the best rate is taken.
    clear = [s for s in scores if s.rate >= AUTO_MIN_RATE]
    most = max(s.parsed for s in clear)
    best = next(s for s in clear if 2 * s.parsed >= most)  # scores: best rate first
    chosen = dataclasses.replace(
        text_format(pattern=None, preset=best.name, multiline_start=multiline_start), chosen=True
    )
    # Presets that parse the same records (an access log: Apache's and NGINX's combined
    # formats are one layout) cannot be told apart by the file; the first is taken, as
    # refusing would refuse every access log, and the report names the others.
    alike = tuple(
        s.name
        for s in clear
        if s is not best
        and (s.records, s.parsed) == (best.records, best.parsed)
        and _columns(s.name) != _columns(best.name)
    )
    return dataclasses.replace(chosen, alike=alike) if alike else chosen


def _columns(preset: str) -> tuple[str, ...]:
    return tuple(
        g for g, _ in text_format(pattern=None, preset=preset, multiline_start=None).type.fields
    )
