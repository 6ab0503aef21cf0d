"""`leads export` and `leads erase`: a lead's data as a ZIP, or erased, from the command line
(LGPD); refusals in one line with exit code 1, in the default language (pt-BR)."""

from __future__ import annotations

import json
import zipfile

from sqlalchemy import select

from dashboard.db.engine import read_session
from dashboard.models import AuditEvent, Lead
from tests.support.lead_data import lead_data, seq


def a_lead(engine, rep):  # type: ignore[no-untyped-def]
    """A lead with two emails; returns it and its address."""
    address = f"rita{seq()}@cliente.test"
    with lead_data(engine) as data:
        lead = data.lead(name="Rita", addresses=[address])
        data.email(lead, rep=rep)
        data.email(lead, rep=rep, direction="out")
    return lead, address


def test_export_by_address_or_number_writes_the_zip(app, engine, rep, tmp_path):
    lead, address = a_lead(engine, rep)
    runner, folder = app.test_cli_runner(), tmp_path / "exports"
    folder.mkdir()
    for name in (address, str(lead.id)):
        out = folder / f"export-{seq()}.zip"
        result = runner.invoke(args=["leads", "export", name, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert f"Lead {lead.id} exported" in result.output and "2 emails" in result.output
        with zipfile.ZipFile(out) as archive:
            assert json.loads(archive.read("lead.json"))["addresses"][0]["address"] == address
    assert {p.suffix for p in folder.iterdir()} == {".zip"}  # no half-written file left
    with read_session(engine) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "lead.export"))
        assert [(e.actor, e.changes) for e in events] == [
            ("cli", {"lead": lead.id, "emails": 2})
        ] * 2


def test_export_of_an_unknown_lead_fails_in_one_line(app, admin, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["leads", "export", "ninguem@fora.test", "--out", str(tmp_path / "x.zip")]
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no lead ninguem@fora.test"
    assert not (tmp_path / "x.zip").exists()


def test_erase_deletes_the_lead_and_a_second_erase_says_it_was_done(app, engine, rep):
    lead, address = a_lead(engine, rep)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["leads", "erase", address.upper(), "--yes"])
    assert result.exit_code == 0, result.output
    assert f"Lead {lead.id} erased: 2 emails deleted" in result.output
    with read_session(engine) as session:
        assert session.get(Lead, lead.id) is None
    again = runner.invoke(args=["leads", "erase", address, "--yes"])
    assert again.exit_code == 1
    assert again.stderr.strip() == f"Error: Os dados de {address} já foram apagados."


def test_erase_of_an_unknown_address_fails_and_without_yes_it_asks(app, engine, rep):
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["leads", "erase", "ninguem@fora.test", "--yes"])
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == "Error: Nenhum lead tem o endereço ninguem@fora.test."
    lead, address = a_lead(engine, rep)
    declined = runner.invoke(args=["leads", "erase", address], input="n\n")
    assert declined.exit_code == 1
    with read_session(engine) as session:
        assert session.get(Lead, lead.id) is not None
