"""The pure rules of compose, by tables: placeholders in Portuguese and English, what goes out
wrong when a value is missing, picking a template over typed text, a draft's signature."""

from __future__ import annotations

import pytest

from dashboard.sending import compose

JOANA = compose.field_values(lead_name="Joana  Silva", company="Cliente SA", rep_name="Rui")
NAMELESS = compose.field_values(lead_name="", company=" ", rep_name="Rui")


@pytest.mark.parametrize(
    ("text", "merged"),
    [
        ("Olá {{ primeiro_nome }},", "Olá Joana,"),
        ("Olá {{first_name}},", "Olá Joana,"),
        ("{{ nome }} / {{ name }}", "Joana Silva / Joana Silva"),
        ("na {{ empresa }} e na {{ company }}", "na Cliente SA e na Cliente SA"),
        ("{{ meu_nome }} = {{ rep_name }}", "Rui = Rui"),
        ("{{ cargo }} e {{ Empresa }} ficam", "{{ cargo }} e {{ Empresa }} ficam"),
    ],
)
def test_placeholders_merge_in_portuguese_and_english(text: str, merged: str) -> None:
    assert compose.merge_fields(text, JOANA) == merged


@pytest.mark.parametrize(
    ("text", "values", "gaps"),
    [
        ("Olá {{ primeiro_nome }}, tudo bem na {{ empresa }}?", JOANA, []),
        ("Olá {{ primeiro_nome }},", NAMELESS, ["primeiro_nome"]),
        ("{{ empresa }} {{ company }} {{ empresa }}", NAMELESS, ["empresa", "company"]),
        ("{{ meu_nome }}", NAMELESS, []),
        ("{{ primeiro_nom }}", JOANA, ["primeiro_nom"]),  # a typo would go out as typed
        ("No placeholders at all {{ }}", NAMELESS, []),
    ],
)
def test_placeholder_gaps_name_what_would_go_out_wrong(
    text: str, values: dict[str, str], gaps: list[str]
) -> None:
    assert compose.placeholder_gaps(text, values) == gaps


def test_portuguese_and_english_names_merge_the_same_values() -> None:
    values = compose.field_values(lead_name="Ana Souza", company="X", rep_name="Rui")
    text = "{{ primeiro_nome }} {{ empresa }} {{ meu_nome }} {{ nome }}"
    assert compose.merge_fields(text, values) == "Ana X Rui Ana Souza"
    english = "{{ first_name }} {{ company }} {{ rep_name }} {{ name }}"
    assert compose.merge_fields(english, values) == "Ana X Rui Ana Souza"


TEMPLATE = ("Olá {{ primeiro_nome }}", "Oi {{ primeiro_nome }},\n\nSegue a proposta.")
OTHER = ("Proposta", "Segue o contrato.")


@pytest.mark.parametrize(
    ("subject", "body", "template", "previous", "result"),
    [
        ("", "", TEMPLATE, None, TEMPLATE),
        ("Re: Orçamento", "", TEMPLATE, None, ("Re: Orçamento", TEMPLATE[1])),
        ("", "Conforme conversamos.\n", TEMPLATE, None,
         (TEMPLATE[0], f"Conforme conversamos.\n\n{TEMPLATE[1]}")),
        (" ", " \n", TEMPLATE, None, TEMPLATE),
        (TEMPLATE[0], TEMPLATE[1].replace("\n", "\r\n") + "\r\n", OTHER, TEMPLATE, OTHER),
        (TEMPLATE[0], TEMPLATE[1] + " e o contrato", OTHER, TEMPLATE,
         OTHER[:1] + (f"{TEMPLATE[1]} e o contrato\n\n{OTHER[1]}",)),
    ],
)  # fmt: skip
def test_picking_a_template_keeps_what_the_rep_typed(
    subject: str,
    body: str,
    template: tuple[str, str],
    previous: tuple[str, str] | None,
    result: tuple[str, str],
) -> None:
    assert compose.apply_template(subject, body, template, previous) == result


@pytest.mark.parametrize(
    ("body", "signature", "kept"),
    [
        (compose.with_signature("Segue.", "Rui\nAcme"), "Rui\nAcme", "Segue."),
        (compose.with_signature("Segue.", "Rui"), "Outra assinatura", "Segue."),
        ("Segue.\n\n-- \nRui à mão", "", "Segue.\n\n-- \nRui à mão"),
        ("Sem assinatura.", "Rui", "Sem assinatura."),
    ],
)
def test_a_drafts_signature_is_taken_off_only_when_one_will_be_added_again(
    body: str, signature: str, kept: str
) -> None:
    assert compose.without_signature(body, signature) == kept
