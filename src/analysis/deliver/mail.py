"""Mailing a published run's briefs to the committees, in a form Outlook and Gmail show well.

One mail per recipient group (Kommunalbestyrelsen and each committee): the brief that concerns
it most as the HTML body, made mail-safe (CSS inlined, a table-based frame, images as inline
attachments referenced by Content-ID in a multipart/related part, never data: URIs), a
plain-text alternative from the same content, and the briefs that concern it attached as .html.
Built with the email package. Without --send, mails are written to the run's mail/ folder as
.eml files. Each sent mail is appended to the outputs folder's mail ledger (mail-ledger.jsonl),
so a second call, or a call after the run was made again, sends only what was not sent.

Addresses: params/recipients.yml holds examples on example.org; real ones come from
params/recipients.local.yml (not committed) or WORKBOOK_RECIPIENTS_<GROUP> (comma-separated).
The SMTP server: WORKBOOK_SMTP_HOST, WORKBOOK_SMTP_PORT (587), WORKBOOK_SMTP_USER,
WORKBOOK_SMTP_PASSWORD, and WORKBOOK_SMTP_CAFILE for a server with its own certificate authority.

Example::

    python -m analysis mail --run outputs/2025K1/kvartal            # writes mail/*.eml
    python -m analysis mail --run outputs/2025K1/kvartal --send
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import css_inline
from bs4 import BeautifulSoup
from pydantic import field_validator

from analysis import faults, paths
from analysis.errors import WorkbookError
from analysis.params import Strict, load_model, load_strategy
from analysis.paths import relative
from analysis.periods import label, parse_period

MAX_HTML_BYTES = 100_000  # Gmail clips a body larger than about 102 KB
BOARD = "kommunalbestyrelsen"
MAIL_DOMAIN = "strategiopfoelgning.invalid"


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    user: str
    password: str
    cafile: str

    @classmethod
    def from_environment(cls) -> Smtp | None:
        host = os.environ.get("WORKBOOK_SMTP_HOST", "")
        if not host:
            return None
        try:
            port = int(os.environ.get("WORKBOOK_SMTP_PORT", "587"))
        except ValueError:
            raise WorkbookError("WORKBOOK_SMTP_PORT: expected a port number") from None
        return cls(
            host,
            port,
            os.environ.get("WORKBOOK_SMTP_USER", ""),
            os.environ.get("WORKBOOK_SMTP_PASSWORD", ""),
            os.environ.get("WORKBOOK_SMTP_CAFILE", ""),
        )


ADDRESS = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+\.[A-Za-z0-9-]+$")


class RecipientFile(Strict):
    """params/recipients.yml: the municipality whose committees these are, the sender, and the
    addresses of each group."""

    kommune: int | None = None  # default: the municipality of params/strategy.yml
    sender: str
    recipients: dict[str, list[str]]

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _address(value)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for group, addresses in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9-]*", group):
                raise ValueError(f"group '{group}': expected a lower-case id such as vtf")
            for address in addresses:
                _address(address)
        return value


class LocalRecipientFile(RecipientFile):
    """params/recipients.local.yml (not committed): real addresses, replacing the examples."""

    sender: str | None = None
    recipients: dict[str, list[str]] = {}

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        return _address(value) if value is not None else None


def _address(value: str) -> str:
    if not isinstance(value, str) or not ADDRESS.match(value):
        shown = str(value)[:60].encode("unicode_escape").decode("ascii")  # a line break shown as \r\n, on one line
        raise ValueError(f"'{shown}' is not a mail address like navn@kommune.dk")
    return value


def recipients_kommune(params_dir: Path | None = None) -> str:
    """The municipality whose groups params/recipients.yml names."""
    params_dir = params_dir or paths.PARAMS_DIR
    data = load_model(params_dir / "recipients.yml", RecipientFile)
    return f"{data.kommune or load_strategy(params_dir).kommune:03d}"


def recipients(params_dir: Path | None = None) -> tuple[str, dict[str, list[str]]]:
    """The sender and the addresses per group: committed examples, then local file, then environment.
    Every file and address is checked: a mistake is one line naming the file and the entry."""
    params_dir = params_dir or paths.PARAMS_DIR
    data = load_model(params_dir / "recipients.yml", RecipientFile)
    sender, groups = data.sender, dict(data.recipients)
    local = params_dir / "recipients.local.yml"
    if local.is_file():
        extra = load_model(local, LocalRecipientFile)
        sender = extra.sender or sender
        groups.update(extra.recipients)
    for group in groups:
        variable = "WORKBOOK_RECIPIENTS_" + re.sub(r"[^A-Z0-9]", "_", group.upper())
        if os.environ.get(variable):
            addresses = [a.strip() for a in os.environ[variable].split(",") if a.strip()]
            try:
                groups[group] = [_address(a) for a in addresses]
            except ValueError as err:
                raise WorkbookError(f"{variable}: {err}") from None
    if os.environ.get("WORKBOOK_SENDER"):
        try:
            sender = _address(os.environ["WORKBOOK_SENDER"])
        except ValueError as err:
            raise WorkbookError(f"WORKBOOK_SENDER: {err}") from None
    return sender, groups


def group_names() -> dict[str, str]:
    strategy = load_strategy()
    names = {BOARD: "Kommunalbestyrelsen"}
    names.update({c.id: c.name for p in strategy.strategy_periods.values() for c in p.committees})
    return names


@dataclass(frozen=True)
class Brief:
    """A brief's file as the mail read it, when it began: what a run that republishes meanwhile
    removes is not read again."""

    path: Path
    data: bytes

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def html(self) -> str:
        return self.data.decode("utf-8")


def briefs_for(group: str, briefs: dict[str, Brief]) -> tuple[Brief, list[Brief]]:
    """The body brief and the attachments of a group: its own committee brief, else the overview,
    and the three theme briefs, which every committee's focus areas touch."""
    own = briefs.get(f"udvalg-{group}")
    body = own or briefs.get("overview") or next(iter(briefs.values()))
    attached = [
        body,
        *[briefs[t] for t in ("overview", "growth", "community", "cooperation") if t in briefs and briefs[t] != body],
    ]
    return body, attached


def mail_safe(html: str) -> tuple[str, list[tuple[str, bytes, str]]]:
    """The brief as a mail body: images to Content-IDs, a table frame, CSS inlined. Returns (html, images)."""
    soup = BeautifulSoup(html, "html.parser")
    images = []
    for number, image in enumerate(soup.find_all("img"), start=1):
        match = re.match(r"data:image/png;base64,(.*)", image.get("src", ""), re.S)
        if not match:
            continue
        cid = make_msgid(idstring=f"figur{number}", domain=MAIL_DOMAIN)
        images.append((cid, base64.b64decode(match.group(1)), image.get("alt", "")))
        image["src"] = f"cid:{cid[1:-1]}"
        image["width"] = "640"
        image["style"] = "max-width:100%;height:auto;display:block"
    main = soup.find("main")
    if main is not None:
        frame = soup.new_tag(
            "table",
            attrs={"role": "presentation", "width": "100%", "cellpadding": "0", "cellspacing": "0", "border": "0"},
        )
        row, cell = (
            soup.new_tag("tr"),
            soup.new_tag("td", attrs={"align": "left", "style": "max-width:680px;padding:16px"}),
        )
        for child in list(main.children):
            cell.append(child.extract())
        row.append(cell)
        frame.append(row)
        main.append(frame)
    return css_inline.inline(str(soup)), images


def plain_text(html: str) -> str:
    """A readable text version of the same brief, for mail clients that show text only."""
    soup = BeautifulSoup(html, "html.parser")
    for style in soup.find_all("style"):
        style.decompose()
    for image in soup.find_all("img"):
        image.replace_with(f"[Figur: {image.get('alt', '')}]")
    for heading in soup.find_all(["h1", "h2"]):
        heading.insert_before("\n")
        heading.string = heading.get_text(" ", strip=True).upper()
    for row in soup.find_all("tr"):
        row.replace_with(" | ".join(cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"])) + "\n")
    text = soup.get_text("\n")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def compose(
    group: str, name: str, addresses: list[str], sender: str, body: Brief, attached: list[Brief], subject: str
) -> EmailMessage:
    html, images = mail_safe(body.html)
    if len(html.encode("utf-8")) > MAX_HTML_BYTES:
        raise WorkbookError(
            f"{relative(body.path)}: the mail body is {len(html.encode()) // 1000} KB; Gmail clips above 100 KB"
        )
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(addresses)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=group, domain=MAIL_DOMAIN)
    message.set_content(plain_text(body.html))
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[1]
    for cid, png, _alt in images:
        html_part.add_related(png, maintype="image", subtype="png", cid=cid)
    for brief in attached:
        message.add_attachment(brief.data, maintype="text", subtype="html", filename=brief.name)
    return message


@dataclass
class MailOutcome:
    group: str
    status: str  # "written", "sent", "already sent", "failed"
    detail: str = ""


LEDGER = "mail-ledger.jsonl"  # in the outputs folder: every message sent, appended, never rewritten


def mail_run(
    run: Path,
    send: bool = False,
    resend: bool = False,
    allow_failed: bool = False,
    allow_example_data: bool = False,
    only: list[str] | None = None,
    log=print,
) -> list[MailOutcome]:
    """Mail (or, without `send`, write as .eml) one published run's briefs to each recipient group.

    The run is read from the folder it is published in at the start, manifest and briefs, so a run
    republished while mail is sending (which removes the folder it replaces) does not mix two runs
    or take a brief away. What was sent is appended to the outputs folder's
    mail ledger, which no run rewrites; a brief whose content was already sent to an address is
    not sent to it again without `resend`. Sending holds a lock, so two mail commands at once
    cannot both send."""
    from filelock import FileLock, Timeout

    link = Path(os.path.abspath(run))
    manifest_path = link / "manifest.json"
    if not manifest_path.is_file():
        raise WorkbookError(f"--run {run}: no manifest.json; expected a published run such as outputs/2025K1/kvartal")
    manifest, briefs = _read_run(link, run)
    jobs, cadence, period = manifest["jobs"], manifest["cadence"], manifest["period"]
    ours = recipients_kommune()
    if str(manifest.get("kommune", ours)) != ours:
        raise WorkbookError(
            f"--run {relative(link.parent)}/{link.name}: the briefs are for kommune {manifest.get('kommune')}; "
            f"the groups of params/recipients.yml are kommune {ours}'s, so nothing is mailed"
        )
    failed = [job["name"] for job in jobs if job["status"] == "failed"]
    if failed and not allow_failed:
        raise WorkbookError(
            f"--run {relative(link)}: job(s) {', '.join(failed)} failed; mail it anyway with --allow-failed"
        )
    if manifest.get("parameters", {}).get("example_data") and not allow_example_data:
        raise WorkbookError(
            f"--run {relative(link)}: the briefs hold illustrative data (Eksempeldata); "
            "mail them anyway with --allow-example-data"
        )
    smtp = Smtp.from_environment() if send else None
    if send and smtp is None:
        raise WorkbookError("--send: no SMTP server; set WORKBOOK_SMTP_HOST (and _PORT, _USER, _PASSWORD)")
    sender, groups = recipients()
    names = group_names()
    unknown = [g for g in (only or []) if g not in groups]
    if unknown:
        raise WorkbookError(f"--only {unknown[0]}: not a recipient group in params/recipients.yml")
    freq = "Q" if cadence == "kvartal" else "Y"
    period_label = label(parse_period(period, freq))
    chosen = [(g, a) for g, a in groups.items() if not only or g in only]
    if not send:
        return [
            _write_eml(link, group, names, addresses, sender, briefs, period_label, log) for group, addresses in chosen
        ]
    root = link.parents[2]  # outputs/, above <kommunekode>/<period>/<cadence>
    ledger_path = root / LEDGER
    try:
        lock = FileLock(str(root / ".mail.lock"), timeout=0)
        lock.acquire()
    except Timeout:
        raise WorkbookError(f"{relative(root)}: another `mail --send` is sending; try again when it is done") from None
    outcomes: list[MailOutcome] = []
    connection = None
    try:
        sent = _ledger(ledger_path)
        for group, addresses in chosen:
            name = names.get(group, group)
            body, attached = briefs_for(group, briefs)
            content = _content_key(group, body, attached)
            todo = addresses if resend else [a for a in addresses if (content, a.lower()) not in sent]
            if not todo:
                outcomes.append(MailOutcome(group, "already sent", content[:12]))
                log(f"{group}: already sent; --resend sends it again")
                continue
            message = compose(group, name, todo, sender, body, attached, f"Strategiopfølgning {period_label} - {name}")
            try:
                connection = connection or _connect(smtp)
                connection.send_message(message)
            except (smtplib.SMTPException, OSError) as err:
                outcomes.append(MailOutcome(group, "failed", _smtp_reason(err)))
                log(f"{group}: FAILED ({_smtp_reason(err)}); not marked as sent")
                connection = None
                break
            faults.point("mail-sent")
            _append(
                ledger_path,
                [
                    {
                        "content": content,
                        "group": group,
                        "recipient": address,
                        "message_id": message["Message-ID"],
                        "run": f"{manifest.get('kommune', ours)}/{period}/{cadence}",
                        "run_id": manifest.get("run_id", ""),
                        "sent_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    }
                    for address in todo
                ],
            )
            sent |= {(content, a.lower()) for a in todo}
            outcomes.append(MailOutcome(group, "sent", message["Message-ID"]))
            log(f"{group}: sent to {len(todo)} recipient(s)")
    finally:
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                pass
        lock.release()
    remaining = [g for g, _a in chosen if g not in {o.group for o in outcomes}]
    outcomes.extend(MailOutcome(g, "failed", "not sent: the connection was lost before it") for g in remaining)
    return outcomes


def _read_run(link: Path, run: Path) -> tuple[dict, dict[str, Brief]]:
    """The manifest and the briefs of the run published at `link`, read from the run's own folder.
    A run that republishes between the link's reading and the files' removes that folder; the run
    published then is read instead."""
    tries = 3
    while True:
        folder = link.resolve()  # the run's own folder: it does not change if the run is republished meanwhile
        try:
            manifest = _read_manifest(folder, run)
            return manifest, _briefs(folder, manifest["jobs"], run)
        except FileNotFoundError:
            tries -= 1
            if not tries or link.resolve() == folder:
                raise


def _read_manifest(folder: Path, run: Path) -> dict:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if not isinstance(manifest["jobs"], list) or not {"cadence", "period"} <= manifest.keys():
            raise KeyError("jobs")
    except FileNotFoundError:
        raise
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise WorkbookError(
            f"--run {run}: manifest.json is not readable ({type(err).__name__}); run the period again"
        ) from None
    return manifest


def _briefs(folder: Path, jobs: list[dict], run: Path) -> dict[str, Brief]:
    """The run's briefs by job name, read: only files in the run's own briefs/ folder, whatever the manifest says."""
    briefs = {}
    root = folder / "briefs"
    for job in jobs:
        name = job.get("brief") or ""
        if not name:
            continue
        path = (folder / name).resolve()
        if path.parent != root.resolve() or path.suffix != ".html":
            raise WorkbookError(
                f"--run {run}: manifest.json names '{name}' as a brief; a brief must be a file in briefs/"
            )
        if path.is_file() or job.get("status") in ("ok", "reused"):  # a made brief that is gone: being removed
            briefs[job["name"]] = Brief(path, path.read_bytes())
    if not briefs:
        raise WorkbookError(f"--run {run}: the run has no briefs")
    return briefs


def _write_eml(
    link: Path,
    group: str,
    names: dict,
    addresses: list[str],
    sender: str,
    briefs: dict[str, Brief],
    period_label: str,
    log,
) -> MailOutcome:
    name = names.get(group, group)
    body, attached = briefs_for(group, briefs)
    message = compose(group, name, addresses, sender, body, attached, f"Strategiopfølgning {period_label} - {name}")
    folder = link / "mail"
    folder.mkdir(exist_ok=True)
    (folder / f"{group}.eml").write_bytes(bytes(message))
    log(f"{group}: written to {relative(link)}/mail/{group}.eml")
    return MailOutcome(group, "written", f"mail/{group}.eml")


def _content_key(group: str, body: Brief, attached: list[Brief]) -> str:
    """What a mail says: the group and the bytes of its briefs. The same briefs made again (a rerun
    that reused them) have the same key, so they are not sent twice."""
    digest = hashlib.sha256(group.encode())
    for brief in [body, *attached]:
        digest.update(brief.name.encode())
        digest.update(hashlib.sha256(brief.data).digest())
    return digest.hexdigest()


def _ledger(path: Path) -> set[tuple[str, str]]:
    """(content, address) of every message sent, from the ledger; a torn last line is skipped."""
    sent = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                sent.add((record["content"], record["recipient"].lower()))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                continue
    return sent


def _append(path: Path, records: list[dict]) -> None:
    """Append to the ledger and flush it to disk before the next message goes out."""
    with path.open("a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _connect(smtp: Smtp) -> smtplib.SMTP:
    connection = smtplib.SMTP(smtp.host, smtp.port, timeout=30)
    connection.ehlo()
    context = ssl.create_default_context(cafile=smtp.cafile or None)
    connection.starttls(context=context)
    connection.ehlo()
    if smtp.user:
        connection.login(smtp.user, smtp.password)
    return connection


def _smtp_reason(err: Exception) -> str:
    """The error without anything that could hold a credential."""
    if isinstance(err, smtplib.SMTPResponseException):
        return f"SMTP {err.smtp_code}"
    return type(err).__name__
