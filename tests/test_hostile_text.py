"""Text from params and data is shown as text: a name like <script> never becomes markup."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from conftest import copy_project, in_process

pytestmark = pytest.mark.e2e  # real runs in processes: `make test-fast` leaves them out

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_names_in_params_and_files_are_escaped_in_the_brief(tmp_path):
    project = copy_project(tmp_path)
    registry = project / "params" / "indicators.yml"
    registry.write_text(
        registry.read_text(encoding="utf-8").replace("    name: Folketal\n", f"    name: 'Folketal {HOSTILE}'\n"),
        encoding="utf-8",
    )
    strategy = project / "params" / "strategy.yml"
    strategy.write_text(
        strategy.read_text(encoding="utf-8").replace(
            "kommune_name: Hedensted Kommune", f"kommune_name: 'Hedensted Kommune {HOSTILE}'"
        ),
        encoding="utf-8",
    )
    (project / "data/raw/manual/kvalitativ.csv").write_text(
        f'period;theme;committee;author;text\n2025K1;growth;vtf;analytiker;"Bemærk {HOSTILE.replace(chr(34), chr(34) * 2)}"\n',
        encoding="utf-8",
    )
    done = in_process(
        "run", "--cadence", "kvartal", "--only", "growth", "--outputs", str(tmp_path / "out"),
        cwd=project, env={"WORKBOOK_ROOT": str(project)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "out/766/2025K1/kvartal/briefs/growth.html").read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("script") is None
    assert not soup.find_all(attrs={"onerror": True})
    assert all(img["src"].startswith("data:image/png;base64,") for img in soup.find_all("img"))
    text = soup.get_text()
    assert f"Folketal {HOSTILE}" in text
    assert f"Hedensted Kommune {HOSTILE}" in text
    assert f"Bemærk {HOSTILE}" in text
    mailed = in_process(
        "mail", "--run", str(tmp_path / "out/766/2025K1/kvartal"), cwd=project, env={"WORKBOOK_ROOT": str(project)}
    )
    assert mailed.returncode == 0, mailed.stderr
    from email import message_from_bytes, policy

    message = message_from_bytes((tmp_path / "out/766/2025K1/kvartal/mail/vtf.eml").read_bytes(), policy=policy.default)
    body = BeautifulSoup(message.get_body(("html",)).get_content(), "html.parser")
    assert body.find("script") is None and not body.find_all(attrs={"onerror": True})
    assert f"Folketal {HOSTILE}" in body.get_text()
    assert f"Folketal {HOSTILE}" in message.get_body(("plain",)).get_content()
