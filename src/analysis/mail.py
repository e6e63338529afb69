"""Mailing a published run's briefs to the committees, in a form Outlook and Gmail show well.

One mail per recipient group (Kommunalbestyrelsen and each committee): the brief that concerns
it most as the HTML body, made mail-safe (CSS inlined, a table-based frame, images as inline
attachments referenced by Content-ID in a multipart/related part, never data: URIs), a
plain-text alternative from the same content, and the briefs that concern it attached as .html.
Built with the email package. Without --send, mails are written to the run's mail/ folder as
.eml files. Each sent mail is recorded in the run's manifest, so a second call sends only what
was not sent.

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
import yaml
from bs4 import BeautifulSoup

from analysis.errors import WorkbookError
from analysis.params import load_strategy
from analysis.paths import PARAMS_DIR, relative
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
        return cls(host, port, os.environ.get("WORKBOOK_SMTP_USER", ""), os.environ.get("WORKBOOK_SMTP_PASSWORD", ""),
                   os.environ.get("WORKBOOK_SMTP_CAFILE", ""))


def recipients(params_dir: Path = PARAMS_DIR) -> tuple[str, dict[str, list[str]]]:
    """The sender and the addresses per group: committed examples, then local file, then environment."""
    data = yaml.safe_load((params_dir / "recipients.yml").read_text(encoding="utf-8"))
    local = params_dir / "recipients.local.yml"
    if local.is_file():
        extra = yaml.safe_load(local.read_text(encoding="utf-8")) or {}
        data["sender"] = extra.get("sender", data["sender"])
        data["recipients"].update(extra.get("recipients", {}))
    groups = dict(data["recipients"])
    for group in groups:
        variable = "WORKBOOK_RECIPIENTS_" + re.sub(r"[^A-Z0-9]", "_", group.upper())
        if os.environ.get(variable):
            groups[group] = [a.strip() for a in os.environ[variable].split(",") if a.strip()]
    sender = os.environ.get("WORKBOOK_SENDER", data["sender"])
    return sender, groups


def group_names() -> dict[str, str]:
    strategy = load_strategy()
    names = {BOARD: "Kommunalbestyrelsen"}
    names.update({c.id: c.name for p in strategy.strategy_periods.values() for c in p.committees})
    return names


def briefs_for(group: str, briefs: dict[str, Path]) -> tuple[Path, list[Path]]:
    """The body brief and the attachments of a group: its own committee brief, else the overview,
    and the three theme briefs, which every committee's focus areas touch."""
    own = briefs.get(f"udvalg-{group}")
    body = own or briefs.get("overview") or next(iter(briefs.values()))
    attached = [body, *[briefs[t] for t in ("overview", "growth", "community", "cooperation") if t in briefs and briefs[t] != body]]
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
        frame = soup.new_tag("table", attrs={"role": "presentation", "width": "100%", "cellpadding": "0",
                                             "cellspacing": "0", "border": "0"})
        row, cell = soup.new_tag("tr"), soup.new_tag("td", attrs={"align": "left", "style": "max-width:680px;padding:16px"})
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


def compose(group: str, name: str, addresses: list[str], sender: str, body: Path, attached: list[Path],
            subject: str) -> EmailMessage:
    html, images = mail_safe(body.read_text(encoding="utf-8"))
    if len(html.encode("utf-8")) > MAX_HTML_BYTES:
        raise WorkbookError(f"{relative(body)}: the mail body is {len(html.encode()) // 1000} KB; Gmail clips above 100 KB")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(addresses)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=group, domain=MAIL_DOMAIN)
    message.set_content(plain_text(body.read_text(encoding="utf-8")))
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[1]
    for cid, png, _alt in images:
        html_part.add_related(png, maintype="image", subtype="png", cid=cid)
    for path in attached:
        message.add_attachment(path.read_bytes(), maintype="text", subtype="html", filename=path.name)
    return message


@dataclass
class MailOutcome:
    group: str
    status: str  # "written", "sent", "already sent", "failed"
    detail: str = ""


def mail_run(run: Path, send: bool = False, resend: bool = False, allow_failed: bool = False,
             allow_example_data: bool = False, only: list[str] | None = None, log=print) -> list[MailOutcome]:
    manifest_path = run / "manifest.json"
    if not manifest_path.is_file():
        raise WorkbookError(f"--run {run}: no manifest.json; expected a published run such as outputs/2025K1/kvartal")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    failed = [job["name"] for job in manifest["jobs"] if job["status"] == "failed"]
    if failed and not allow_failed:
        raise WorkbookError(f"--run {relative(run)}: job(s) {', '.join(failed)} failed; mail it anyway with --allow-failed")
    if manifest["parameters"].get("example_data") and not allow_example_data:
        raise WorkbookError(f"--run {relative(run)}: the briefs hold illustrative data (Eksempeldata); "
                            "mail them anyway with --allow-example-data")
    smtp = Smtp.from_environment() if send else None
    if send and smtp is None:
        raise WorkbookError("--send: no SMTP server; set WORKBOOK_SMTP_HOST (and _PORT, _USER, _PASSWORD)")
    briefs = {job["name"]: run / job["brief"] for job in manifest["jobs"] if job.get("brief") and (run / job["brief"]).is_file()}
    sender, groups = recipients()
    names = group_names()
    unknown = [g for g in (only or []) if g not in groups]
    if unknown:
        raise WorkbookError(f"--only {unknown[0]}: not a recipient group in params/recipients.yml")
    freq = "Q" if manifest["cadence"] == "kvartal" else "Y"
    period_label = label(parse_period(manifest["period"], freq))
    sent = manifest.setdefault("mail", {})
    outcomes = []
    connection = None
    try:
        for group, addresses in groups.items():
            if only and group not in only:
                continue
            name = names.get(group, group)
            body, attached = briefs_for(group, briefs)
            message = compose(group, name, addresses, sender, body, attached,
                              f"Strategiopfølgning {period_label} - {name}")
            if not send:
                folder = run / "mail"
                folder.mkdir(exist_ok=True)
                (folder / f"{group}.eml").write_bytes(bytes(message))
                outcomes.append(MailOutcome(group, "written", f"mail/{group}.eml"))
                log(f"{group}: written to {relative(folder / f'{group}.eml')}")
                continue
            if group in sent and not resend:
                outcomes.append(MailOutcome(group, "already sent", sent[group]["message_id"]))
                log(f"{group}: already sent ({sent[group]['sent_at']}); --resend sends it again")
                continue
            try:
                connection = connection or _connect(smtp)
                connection.send_message(message)
            except (smtplib.SMTPException, OSError) as err:
                outcomes.append(MailOutcome(group, "failed", _smtp_reason(err)))
                log(f"{group}: FAILED ({_smtp_reason(err)}); not marked as sent")
                connection = None
                break
            sent[group] = {"message_id": message["Message-ID"], "recipients": len(addresses),
                           "sent_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
            _write_manifest(manifest_path, manifest)
            outcomes.append(MailOutcome(group, "sent", message["Message-ID"]))
            log(f"{group}: sent to {len(addresses)} recipient(s)")
    finally:
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                pass
    remaining = [g for g in groups if (not only or g in only) and g not in {o.group for o in outcomes}]
    outcomes.extend(MailOutcome(g, "failed", "not sent: the connection was lost before it") for g in remaining if send)
    return outcomes


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


def _write_manifest(path: Path, manifest: dict) -> None:
    temporary = path.with_name(f".{path.name}.mail")
    temporary.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)
