"""A client for Danmarks Statistik's Statbank API v1 (https://api.statbank.dk/v1).

Each query in params/queries.yml names a table and, per variable (by its Danish text, as the
table catalogue lists it), the values wanted. The client reads the table's `tableinfo` first,
so a variable or value the table does not have is an error naming the table, the variable and
the value before any data is asked for. It then plans the requests as DST allows them:

- CSV, when the request is at most 1,000,000 cells (DST answers REQUEST-LIMIT above that);
- several CSV requests, one group of periods each, when the whole is larger;
- BULK, when one period alone is larger; BULK eliminates nothing, so every variable of the
  table must be named (DST answers EXTRACT-NOTALLOWED otherwise).

Timeouts, connection errors and 5xx answers are retried with backoff (urllib3's Retry).

Example::

    client = StatbankClient("https://api.statbank.dk/v1")
    info = client.tableinfo("FOLK1A")
    for body in client.plan(query, info, municipalities):   # one or more request bodies
        content, content_type = client.data_csv(body)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from analysis.errors import WorkbookError
from analysis.params import QuerySpec, Range

DEFAULT_BASE_URL = "https://api.statbank.dk/v1"
TIMEOUT = (10, 120)  # seconds to connect, seconds to wait for the answer
CELL_LIMIT = 1_000_000  # the most cells DST returns in one CSV request
MAX_BODY = 256 * 1024 * 1024  # bytes of one answer: 1,000,000 cells take about 70 MB
DEADLINE = 900  # seconds one table may take in all, however slowly the bytes come


class Unreachable(WorkbookError):
    """The API could not be reached at all (no network, a refused connection, timeouts)."""


@dataclass(frozen=True)
class Query:
    name: str  # the raw file it makes: statbank/<name>.csv
    table: str
    variables: dict  # variable text (or id) -> "*", "kommuner", value ids, or a Range

    @classmethod
    def of(cls, name: str, spec: QuerySpec) -> Query:
        return cls(name, spec.table, dict(spec.variables))


@dataclass(frozen=True)
class Planned:
    """The request bodies for one query, and the variables (with their values) the file will hold."""

    bodies: list[dict]
    variables: list[dict]  # [{"id", "text", "values": {code: text}}] in the order of the file's columns
    cells: int


class StatbankClient:
    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: tuple[float, float] = TIMEOUT,
        max_body: int = MAX_BODY,
        deadline: float = DEADLINE,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.max_body = max_body
        self.deadline = deadline
        self.session = requests.Session()
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET", "POST"}),
            raise_on_status=False,
        )
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def _request(self, method: str, path: str, what: str, until: float | None = None, **kwargs) -> requests.Response:
        """One request, its body read in full within the size cap and by the deadline `until`
        (time.monotonic()); no redirect is followed."""
        url = f"{self.base_url}/{path}"
        until = until if until is not None else time.monotonic() + self.deadline
        try:
            response = self.session.request(
                method, url, timeout=self.timeout, allow_redirects=False, stream=True, **kwargs
            )
            body = bytearray()
            for chunk in response.iter_content(chunk_size=1 << 20):
                body += chunk
                if len(body) > self.max_body:
                    response.close()
                    raise WorkbookError(
                        f"{what}: {url} sent more than {self.max_body // (1024 * 1024)} MB; the answer is refused"
                    )
                if time.monotonic() > until:
                    response.close()
                    raise WorkbookError(
                        f"{what}: {url} took more than {self.deadline:.0f} s in all; the answer is refused"
                    )
            response._content = bytes(body)
        except requests.exceptions.RetryError as err:
            raise WorkbookError(f"{what}: {url} kept failing after retries ({_reason(err)})") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
            raise Unreachable(f"{what}: {url} could not be reached ({_reason(err)})") from None
        except requests.exceptions.RequestException as err:
            raise WorkbookError(f"{what}: {url} could not be reached ({_reason(err)})") from None
        if 300 <= response.status_code < 400:
            raise WorkbookError(
                f"{what}: {url} answered {response.status_code}, a redirect to "
                f"{response.headers.get('Location', '?')}; the workbook follows no redirect"
            )
        if response.status_code >= 400:
            detail = _error_detail(response)
            tries = f" (after {self.retries + 1} tries)" if response.status_code >= 500 else ""
            raise WorkbookError(
                f"{what}: {url} answered {response.status_code}{': ' + detail if detail else ''}{tries}"
            )
        return response

    def tables(self) -> list[dict]:
        """The table catalogue: id, text, updated, firstPeriod, latestPeriod, variables."""
        response = self._request("GET", "tables", "table catalogue", params={"format": "json", "lang": "da"})
        return _json(response, "table catalogue")

    def tableinfo(self, table: str) -> dict:
        response = self._request(
            "GET", "tableinfo", f"table {table}", params={"id": table, "format": "json", "lang": "da"}
        )
        return _json(response, f"table {table}")

    def plan(self, query: Query, info: dict, municipalities: list[str] | None = None) -> Planned:
        """The data requests for a query, checked against tableinfo, within DST's size rules."""
        where = f"params/queries.yml: {query.name}: table {query.table}"
        by_name = {}
        for variable in info["variables"]:
            by_name[variable["id"].lower()] = variable
            by_name[variable["text"].lower()] = variable
        chosen: dict[str, list[str]] = {}
        for name, values in query.variables.items():
            variable = by_name.get(name.lower())
            if variable is None:
                known = ", ".join(f"{v['id']} ({v['text']})" for v in info["variables"])
                raise WorkbookError(f"{where} has no variable '{name}'; it has {known}")
            chosen[variable["id"]] = _values(values, variable, municipalities, where)
        left_out = [v for v in info["variables"] if v["id"] not in chosen]
        for variable in left_out:
            if not variable.get("elimination", False):
                raise WorkbookError(
                    f"{where}: variable {variable['id']} ({variable['text']}) cannot be left out; name its values"
                )
        ordered = [v for v in info["variables"] if v["id"] in chosen]  # the API answers in tableinfo's order
        texts = {v["id"]: {value["id"]: value["text"] for value in v["values"]} for v in ordered}
        variables = [
            {"id": v["id"], "text": v["text"], "values": {c: texts[v["id"]][c] for c in chosen[v["id"]]}}
            for v in ordered
        ]
        cells = math.prod(len(chosen[v["id"]]) for v in ordered)
        time = next((v["id"] for v in ordered if v.get("time")), None)
        base = {"table": query.table, "lang": "da", "valuePresentation": "Default"}

        def body(fmt: str, values: dict[str, list[str]]) -> dict:
            return {**base, "format": fmt, "variables": [{"code": v["id"], "values": values[v["id"]]} for v in ordered]}

        if cells <= CELL_LIMIT:
            return Planned([body("CSV", chosen)], variables, cells)
        per_period = cells // len(chosen[time]) if time else cells
        if time and per_period <= CELL_LIMIT:
            step = CELL_LIMIT // per_period
            periods = chosen[time]
            bodies = [body("CSV", {**chosen, time: periods[i : i + step]}) for i in range(0, len(periods), step)]
            return Planned(bodies, variables, cells)
        if left_out:
            names = ", ".join(f"{v['id']} ({v['text']})" for v in left_out)
            raise WorkbookError(
                f"{where}: {cells:,} cells need format BULK, which sums nothing: name the values of {names}"
            )
        return Planned([body("BULK", chosen)], variables, cells)

    def data_csv(self, body: dict, until: float | None = None) -> tuple[bytes, str]:
        """The raw CSV bytes of a data request, and the response's Content-Type."""
        response = self._request("POST", "data", f"table {body['table']}", until=until, json=body)
        return response.content, response.headers.get("Content-Type", "")


def _values(values, variable: dict, municipalities: list[str] | None, where: str) -> list[str]:
    """The value ids a query asks for, each checked against the table's own."""
    ids = [v["id"] for v in variable["values"]]
    if values == "*":
        return ids
    if values == "kommuner":
        if municipalities is None:
            raise WorkbookError(f"{where}: 'kommuner' needs DST's Kommunegrupper (KOMGRP) on disk")
        wanted = list(municipalities)
    elif isinstance(values, Range):
        wanted = values.codes(ids)
        if not wanted:
            raise WorkbookError(f"{where}: variable {variable['id']} has no value in {values.describe()}")
        return wanted
    else:
        wanted = [str(v) for v in values]
    known = set(ids)
    missing = [v for v in wanted if v not in known]
    if missing:
        shown = ", ".join(ids[:15]) + (" ..." if len(ids) > 15 else "")
        raise WorkbookError(
            f"{where}: variable {variable['id']} ({variable['text']}) has no value '{missing[0]}'; it has {shown}"
        )
    return wanted


def _error_detail(response: requests.Response) -> str:
    """DST's own error ('REQUEST-LIMIT: ...'), or the first line of the body."""
    try:
        data = response.json()
        if isinstance(data, dict) and ("errorTypeCode" in data or "message" in data):
            return f"{data.get('errorTypeCode', '')}: {data.get('message', '')}".strip(": ")[:300]
    except ValueError:
        pass
    text = response.text.strip()
    return text.splitlines()[0][:200] if text else ""


def _json(response: requests.Response, what: str):
    try:
        return response.json()
    except ValueError:
        raise WorkbookError(f"{what}: {response.url} did not answer with JSON") from None


def _reason(err: Exception) -> str:
    """The useful end of a requests/urllib3 error: 'Connection refused', 'Read timed out', ..."""
    text = str(err)
    for marker in ("[Errno", "Read timed out", "Connection aborted", "Connection reset", "too many 5", "responses"):
        if marker in text:
            text = text[text.index(marker) :]
            break
    return text.split(")")[0].strip("()'\" ")[:160]
