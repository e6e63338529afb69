"""A client for Danmarks Statistik's Statbank API v1 (https://api.statbank.dk/v1).

Each query in params/queries.yml names a table and, per variable (by its Danish text, as the
table catalogue lists it), the values wanted: "*" for all, or value ids. The client reads the
table's `tableinfo` first, so a variable or value the table does not have is a clear error
before any data is asked for; then it asks for the data as CSV (BULK for large tables).
Timeouts, connection errors and 5xx answers are retried with backoff (urllib3's Retry).

Example::

    client = StatbankClient("https://api.statbank.dk/v1")
    body = client.data_csv(query, client.tableinfo("FOLK1AM"))
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from analysis.errors import WorkbookError

DEFAULT_BASE_URL = "https://api.statbank.dk/v1"
TIMEOUT = (10, 120)  # seconds to connect, seconds to wait for the answer
BULK_CELLS = 1_000_000  # above this many cells the API wants format BULK


@dataclass(frozen=True)
class Query:
    name: str  # the raw file it makes: statbank/<name>.csv
    table: str
    variables: dict[str, list[str]]  # variable text (or id) -> value ids, or ["*"]


class StatbankClient:
    def __init__(self, base_url: str = DEFAULT_BASE_URL, retries: int = 3, backoff: float = 0.5,
                 timeout: tuple[float, float] = TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.session = requests.Session()
        retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
                      status_forcelist=(500, 502, 503, 504), allowed_methods=frozenset({"GET", "POST"}),
                      raise_on_status=False)
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def _request(self, method: str, path: str, what: str, **kwargs) -> requests.Response:
        url = f"{self.base_url}/{path}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.exceptions.RetryError as err:
            raise WorkbookError(f"{what}: {url} kept failing after retries ({_reason(err)})") from None
        except requests.exceptions.RequestException as err:
            raise WorkbookError(f"{what}: {url} could not be reached ({_reason(err)})") from None
        if response.status_code >= 400:
            detail = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
            tries = f" (after {self.retries + 1} tries)" if response.status_code >= 500 else ""
            raise WorkbookError(f"{what}: {url} answered {response.status_code}{': ' + detail if detail else ''}{tries}")
        return response

    def tables(self) -> list[dict]:
        """The table catalogue: id, text, updated, firstPeriod, latestPeriod, variables."""
        response = self._request("GET", "tables", "table catalogue", params={"format": "json", "lang": "da"})
        return _json(response, "table catalogue")

    def tableinfo(self, table: str) -> dict:
        response = self._request("GET", "tableinfo", f"table {table}", params={"id": table, "format": "json", "lang": "da"})
        return _json(response, f"table {table}")

    def request_body(self, query: Query, info: dict) -> dict:
        """The data request, with variables named by their ids and checked against tableinfo."""
        by_name = {}
        for variable in info["variables"]:
            by_name[variable["id"].lower()] = variable
            by_name[variable["text"].lower()] = variable
        variables = []
        cells = 1
        for name, values in query.variables.items():
            variable = by_name.get(name.lower())
            if variable is None:
                known = ", ".join(f"{v['id']} ({v['text']})" for v in info["variables"])
                raise WorkbookError(f"params/queries.yml: {query.name}: table {query.table} has no variable '{name}'; it has {known}")
            ids = {v["id"] for v in variable["values"]}
            if values != ["*"]:
                unknown = [v for v in values if v not in ids]
                if unknown:
                    raise WorkbookError(
                        f"params/queries.yml: {query.name}: variable {variable['id']} of {query.table} has no value '{unknown[0]}'"
                    )
            cells *= len(ids) if values == ["*"] else len(values)
            variables.append({"code": variable["id"], "values": values})
        named = {v["code"] for v in variables}
        for variable in info["variables"]:
            if variable["id"] not in named and not variable["elimination"]:
                raise WorkbookError(
                    f"params/queries.yml: {query.name}: variable {variable['id']} of {query.table} cannot be left out; name its values"
                )
        return {"table": query.table, "lang": "da", "format": "BULK" if cells > BULK_CELLS else "CSV",
                "valuePresentation": "Default", "variables": variables}

    def data_csv(self, body: dict) -> tuple[bytes, str]:
        """The raw CSV bytes of a data request, and the response's Content-Type."""
        response = self._request("POST", "data", f"table {body['table']}", json=body)
        return response.content, response.headers.get("Content-Type", "")


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
            text = text[text.index(marker):]
            break
    return text.split(")")[0].strip("()'\" ")[:160]
