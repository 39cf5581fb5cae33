"""Parse the timestamp forms logs use into timezone-aware UTC datetimes, fast.

ISO-8601 in all its spellings goes through `datetime.fromisoformat` (C code, accepts `Z`, comma
fractions, nanoseconds, `+0000`). The other forms are matched by one small anchored regex each and
cached up to the second, because consecutive log lines share that prefix:

    15/Jan/2024:14:02:11 +0000        access logs (CLF)
    Jan 15 14:02:11[.123456]          syslog, journalctl short: no year, inferred (Dec → Jan rolls);
                                      a dated stamp parsed before it (another line's, or the
                                      line's own) sets the year, over `default_year`
    Sun Dec 04 04:47:44[.123] 2005    Apache error log, ctime, dmesg -T
    2024/01/15 14:02:11[.123]         Go stdlib, nginx error log
    15 Jan 2024 14:02:11.123          Redis
    15-Jan-2024 14:02:11.123          Tomcat/Java
    081109 203615 / 240115 14:02:11   loghub HDFS, old MySQL (yymmdd)
    1705327331[.123] / ms / µs / ns   epoch numbers or digit strings, unit from the magnitude
    14:02:11[.123]                    a time of day alone (logback's default pattern), given a
                                      `default_date`: on it, a day later each time the clock goes
                                      back by more than 12 hours (midnight); `time_only` counts

Naive times are taken in `default_tz` (UTC unless given). Unparseable values give None.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

# Zone abbreviations that are unambiguous enough to honour; anything else → default tz.
ZONES: dict[str, tzinfo] = {
    "UTC": UTC,
    "GMT": UTC,
    "Z": UTC,
    "UT": UTC,
    "EST": timezone(timedelta(hours=-5)),
    "EDT": timezone(timedelta(hours=-4)),
    "CST": timezone(timedelta(hours=-6)),
    "CDT": timezone(timedelta(hours=-5)),
    "MST": timezone(timedelta(hours=-7)),
    "MDT": timezone(timedelta(hours=-6)),
    "PST": timezone(timedelta(hours=-8)),
    "PDT": timezone(timedelta(hours=-7)),
    "CET": timezone(timedelta(hours=1)),
    "CEST": timezone(timedelta(hours=2)),
    "EET": timezone(timedelta(hours=2)),
    "EEST": timezone(timedelta(hours=3)),
    "JST": timezone(timedelta(hours=9)),
}

_FRAC = r"(?:[.,](?P<frac>\d{1,9}))?"
_OFFSET = r"(?:\s?(?P<zone>[+-]\d\d:?\d\d|[A-Z]{1,5}))?"
# Each form: a named regex; groups y/mon/d/H/M/S (mon may be a name), optional frac and zone.
_CLF = re.compile(
    r"(?P<d>\d\d)/(?P<mon>[A-Z][a-z]{2})/(?P<y>\d{4}):(?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d)"
    + _FRAC
    + _OFFSET
    + r"$"
)
_SYSLOG = re.compile(
    r"(?P<mon>[A-Z][a-z]{2})\s{1,2}(?P<d>\d{1,2}) (?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d)"
    + _FRAC
    + r"(?: (?P<y>\d{4}))?"
    + _OFFSET
    + r"$"
)
_CTIME = re.compile(
    r"[A-Z][a-z]{2},? (?P<mon>[A-Z][a-z]{2})\s{1,2}(?P<d>\d{1,2}) (?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d)"
    + _FRAC
    + r" (?P<y>\d{4})"
    + _OFFSET
    + r"$"
)
_RFC2822 = re.compile(
    r"[A-Z][a-z]{2}, (?P<d>\d{1,2}) (?P<mon>[A-Z][a-z]{2}) (?P<y>\d{4}) (?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d)"
    + _FRAC
    + _OFFSET
    + r"$"
)
_DAY_FIRST = re.compile(  # Redis `15 Jan 2024 14:02:11.123`, Tomcat `15-Jan-2024 14:02:11.123`
    r"(?P<d>\d{1,2})[ -](?P<mon>[A-Z][a-z]{2})[ -](?P<y>\d{4})[ :](?P<H>\d\d):(?P<M>\d\d):(?P<S>\d\d)"
    + _FRAC
    + _OFFSET
    + r"$"
)
_YYMMDD = (
    re.compile(  # loghub HDFS `081109 203615`, old MySQL `240115 14:02:11` / `240115  9:02:11`
        r"(?P<y>\d\d)(?P<mon>\d\d)(?P<d>\d\d)\s{1,2}(?P<H>[ \d]?\d):?(?P<M>\d\d):?(?P<S>\d\d)"
        + _FRAC
        + r"$"
    )
)
_EPOCH = re.compile(r"-?\d{9,19}(?:\.\d{1,9})?$")
_TIME_OF_DAY = re.compile(
    r"(?P<H>[01]\d|2[0-3]):(?P<M>[0-5]\d):(?P<S>[0-5]\d)(?:[.,](?P<frac>\d{1,9}))?$"
)
HALF_DAY = 12 * 3600


def _offset(zone: str) -> tzinfo | None:
    """`+0100`, `-05:00` → a fixed offset; None for anything else."""
    if zone[:1] not in ("+", "-"):
        return None
    digits = zone[1:].replace(":", "")
    if len(digits) != 4 or not digits.isdigit():
        return None
    if digits == "0000":
        return UTC
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]))
    return timezone(-offset if zone[0] == "-" else offset)


def epoch_to_datetime(value: float) -> datetime | None:
    """Seconds, milliseconds, microseconds or nanoseconds since 1970, told apart by magnitude."""
    v = abs(value)
    if v < 1e11:
        seconds = value
    elif v < 1e14:
        seconds = value / 1e3
    elif v < 1e17:
        seconds = value / 1e6
    else:
        seconds = value / 1e9
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


class TimestampParser:
    """Stateful per-source parser: remembers the inferred syslog year and caches prefixes."""

    __slots__ = (
        "_cache",
        "_last_month",
        "_last_tod",
        "_seconds",
        "_seen",
        "_syslog_cache",
        "_year",
        "_year_given",
        "day",
        "reference",
        "time_only",
        "tz",
    )

    def __init__(
        self,
        *,
        default_year: int | None = None,
        default_tz: tzinfo | None = None,
        reference: datetime | None = None,
        default_date: date | None = None,
    ) -> None:
        self.tz = default_tz or UTC
        self.reference = reference or datetime.now(UTC)
        # a bare time of day is dated on this day (advanced past each midnight); without one
        # a bare time is not a timestamp
        self.day = default_date
        self._last_tod: int | None = None  # seconds into the day of the last bare time
        self.time_only = 0
        self._year_given = default_year is not None
        self._year = default_year if default_year is not None else self.reference.year
        self._last_month: int | None = None
        self._seen: datetime | None = None  # the last stamp that carried its own year
        self._cache: dict[str, datetime] = {}  # whole strings that carry their own year
        self._seconds: dict[str, datetime] = {}  # regex forms, up to the second
        self._syslog_cache: dict[str, datetime] = {}  # `Jan 15 14:02:11` → with its year

    def parse(self, value: object) -> datetime | None:
        if type(value) is str:
            hit = self._cache.get(value)
            return hit if hit is not None else self.parse_str(value)
        if isinstance(value, str):
            return self.parse_str(value)
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int | float):
            return epoch_to_datetime(value)
        return None

    def parse_str(self, s: str) -> datetime | None:
        hit = self._cache.get(s)
        if hit is not None:
            return hit
        if len(s) > 64:
            return None
        s = s.strip()
        if not s:
            return None
        c0 = s[0]
        dt: datetime | None
        if c0.isdigit():
            n = len(s)
            if n >= 10 and s[4] == "-" and s[7] == "-":
                dt = self._iso(s)
            elif n >= 10 and s[4] == "/" and s[7] == "/":
                dt = self._iso(s.replace("/", "-", 2))
            elif n == 13 and s[6] == " " and s.isascii() and s[:6].isdigit() and s[7:].isdigit():
                dt = self._yymmdd(s)  # loghub HDFS `081109 203615`
            elif n == 26 and s[2] == "/" and s[11] == ":" and s[20] == " ":  # CLF
                dt = self._fixed(s[7:11], s[3:6], s[0:2], s[12:14], s[15:17], s[18:20], s[21:])
            elif _EPOCH.match(s):
                return epoch_to_datetime(float(s) if "." in s else int(s))
            elif n >= 8 and s[2] == ":" and s[5] == ":" and self.day is not None:
                return self._time_of_day(s)  # never cached: the same time recurs on other days
            else:
                dt = self._regex(s, (_YYMMDD, _CLF, _DAY_FIRST))
        elif c0.isalpha():
            month = MONTHS.get(s[:3])
            if month is not None and s[3:4] == " ":
                return self._syslog(s, month)
            if len(s) == 24 and s[3] == " " and s[7] == " " and s[13] == ":" and s[19] == " ":
                dt = self._fixed(s[20:24], s[4:7], s[8:10], s[11:13], s[14:16], s[17:19], None)
            else:
                dt = self._regex(s, (_CTIME, _RFC2822))
        elif c0 == "-" and _EPOCH.match(s):
            return epoch_to_datetime(float(s))
        else:
            return None
        if dt is not None:
            cache = self._cache
            if len(cache) >= 4096:
                cache.clear()
            cache[s] = dt
        return dt

    def _time_of_day(self, s: str) -> datetime | None:
        m = _TIME_OF_DAY.match(s)
        if m is None:
            return None
        hh, mm, ss, frac = m.group("H", "M", "S", "frac")
        tod = int(hh) * 3600 + int(mm) * 60 + int(ss)
        last = self._last_tod
        day = self.day
        assert day is not None  # parse_str checks
        if last is not None and last - tod > HALF_DAY and day < date.max:
            day = self.day = day + timedelta(days=1)  # 23:59:59 → 00:00:01: the next day
        self._last_tod = tod
        self.time_only += 1
        micro = int((frac + "00000")[:6]) if frac else 0
        dt = datetime.combine(day, time(int(hh), int(mm), int(ss), micro), tzinfo=self.tz)
        return dt if self.tz is UTC else dt.astimezone(UTC)

    def _yymmdd(self, s: str) -> datetime | None:
        year = int(s[:2])
        try:
            dt = datetime(
                year + (2000 if year < 70 else 1900),
                int(s[2:4]),
                int(s[4:6]),
                int(s[7:9]),
                int(s[9:11]),
                int(s[11:13]),
                tzinfo=self.tz,
            )
        except ValueError:
            return None
        return dt if self.tz is UTC else dt.astimezone(UTC)

    def _fixed(
        self, y: str, mon: str, d: str, hh: str, mm: str, ss: str, zone: str | None
    ) -> datetime | None:
        """Fixed-width forms sliced without a regex."""
        month = MONTHS.get(mon)
        if month is None:
            return None
        tz = self.tz
        if zone:
            tz = _offset(zone) or ZONES.get(zone) or self.tz
        try:
            dt = datetime(int(y), month, int(d), int(hh), int(mm), int(ss), tzinfo=tz)
        except ValueError:
            return None
        return dt if tz is UTC else dt.astimezone(UTC)

    def _syslog(self, s: str, month: int) -> datetime | None:
        """Year-less: the roll-over state must see every stamp, so the cache checks the year."""
        if (
            len(s) >= 15
            and s[6] == " "
            and s[9] == ":"
            and s[12] == ":"
            and (len(s) == 15 or s[15] == ".")
        ):
            year = self._infer_year(month)
            head = s[:15]
            hit = self._syslog_cache.get(head)
            dt: datetime | None
            if hit is not None and hit.year == year:
                dt = hit
            else:
                dt = self._fixed(str(year), s[:3], s[4:6], s[7:9], s[10:12], s[13:15], None)
                if dt is None:
                    return None
                if len(self._syslog_cache) >= 4096:
                    self._syslog_cache.clear()
                self._syslog_cache[head] = dt
            if len(s) > 16 and s[16:].isdigit():
                dt = dt.replace(microsecond=int((s[16:] + "00000")[:6]))
            return dt
        m = _SYSLOG.match(s)
        if m is None:
            return self._regex(s, (_CTIME, _RFC2822))
        if m.group("y"):
            return self._from_match(m, None)
        year = self._infer_year(month)
        return self._from_match(m, year)

    # -- ISO-8601 -------------------------------------------------------------------------
    def _iso(self, s: str) -> datetime | None:
        dt: datetime | None
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            dt = self._iso_slow(s)
            if dt is None:
                return None
        self._seen = dt  # before the zone: the year and month as the log wrote them
        tz = dt.tzinfo
        if tz is None:
            dt = dt.replace(tzinfo=self.tz)
            return dt if self.tz is UTC else dt.astimezone(UTC)
        if tz is UTC:
            return dt
        return dt.astimezone(UTC)

    def _iso_slow(self, s: str) -> datetime | None:
        """`2024-01-15 14:02:11.123 UTC`, `2024-01-15 14:02:11 +00`, `...T14:02:11.123456Z[UTC]`."""
        zone: tzinfo | None = None
        head, sep, tail = s.rpartition(" ")
        if sep and tail.isalpha():
            zone = ZONES.get(tail.upper())
            s = head
        elif sep and len(tail) == 3 and tail[0] in "+-" and tail[1:].isdigit():
            s = head + tail + ":00"
        s = s.split("[", 1)[0]
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            return None
        if zone is not None and dt.tzinfo is None:
            dt = dt.replace(tzinfo=zone)
        return dt

    # -- everything else ------------------------------------------------------------------
    def _regex(self, s: str, patterns: tuple[re.Pattern[str], ...]) -> datetime | None:
        for pat in patterns:
            m = pat.match(s)
            if m is not None:
                return self._from_match(m, None)
        return None

    def _from_match(self, m: re.Match[str], year: int | None) -> datetime | None:
        """Build from a regex match, cached up to the second (the fraction is added after)."""
        frac = m.group("frac")
        zone = m.groupdict().get("zone")
        base = m.string[: m.start("frac") - 1] if frac else m.string[: m.end("S")]
        key = f"{year}|{base}|{zone}"
        dt = self._seconds.get(key)
        if dt is None:
            dt = self._build(m, year, zone)
            if dt is None:
                return None
            if len(self._seconds) >= 4096:
                self._seconds.clear()
            self._seconds[key] = dt
        if frac:
            dt = dt.replace(microsecond=int((frac + "00000")[:6]))
        return dt

    def _build(self, m: re.Match[str], year: int | None, zone_s: str | None) -> datetime | None:
        mon_s = m.group("mon")
        month = MONTHS.get(mon_s) if mon_s[0].isalpha() else int(mon_s)
        if not month:
            return None
        if year is None:
            y = m.group("y")
            if y is None:
                year = self._infer_year(month)
            else:
                year = int(y)
                if year < 100:
                    year += 2000 if year < 70 else 1900
        tz = self.tz
        if zone_s:
            tz = _offset(zone_s) or ZONES.get(zone_s) or self.tz
        try:
            dt = datetime(
                year,
                month,
                int(m.group("d")),
                int(m.group("H")),
                int(m.group("M")),
                int(m.group("S")),
                tzinfo=tz,
            )
        except ValueError:
            return None
        return dt if tz is UTC else dt.astimezone(UTC)

    def _infer_year(self, month: int) -> int:
        """Syslog has no year: the year of the last dated stamp seen (a year in the file wins),
        else the given one, else the reference's; roll over Dec → Jan, never land in the
        future."""
        seen = self._seen
        if seen is not None:  # re-anchor on it; the roll-over below compares the months
            self._seen = None
            self._year, self._last_month, self._year_given = seen.year, seen.month, True
        last = self._last_month
        if last is None:
            if not self._year_given and month > self.reference.month + 1:
                self._year -= 1  # a December log read in January is last year's
            self._last_month = month
            return self._year
        if month < last and last - month >= 6:
            self._year += 1
        elif month > last and month - last >= 6:
            return self._year - 1  # a straggler from before the new year; keep the state
        self._last_month = month
        return self._year


def parse_timestamp(
    value: object, *, default_year: int | None = None, default_tz: tzinfo | None = None
) -> datetime | None:
    """One-off parse (no year roll-over state); use TimestampParser for a stream."""
    return TimestampParser(default_year=default_year, default_tz=default_tz).parse(value)
