"""The home page's panels. Each feature registers the panel it shows there (the way it
registers its other app-wide hooks), so the home page, low in the import ranks, never imports
the features above it and shows whatever the app was built with."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, current_app
from flask.blueprints import BlueprintSetupState
from markupsafe import Markup

HomePanel = Callable[[], str]  # the panel's HTML for the current user; "" shows nothing
PANELS = "leadsync.home_panels"


def home_panel(bp: Blueprint, order: int) -> Callable[[HomePanel], HomePanel]:
    """Decorator: show `panel` on the home page of any app `bp` is registered on, placed by
    `order` (lowest first)."""

    def register(panel: HomePanel) -> HomePanel:
        def attach(state: BlueprintSetupState) -> None:
            add_panel(state.app, order, panel)

        bp.record_once(attach)
        return panel

    return register


def add_panel(app: Flask, order: int, panel: HomePanel) -> None:
    """Add a panel to the app's home page."""
    panels: list[tuple[int, str, HomePanel]] = app.extensions.setdefault(PANELS, [])
    panels.append((order, panel.__qualname__, panel))
    panels.sort(key=lambda entry: entry[:2])


def rendered_panels() -> list[Markup]:
    """Every registered panel rendered for the current user, in order; empty ones left out."""
    shown = (panel() for _order, _name, panel in current_app.extensions.get(PANELS, []))
    # noqa below: a panel is a template rendered with autoescape, its values already escaped
    return [Markup(html) for html in shown if html.strip()]  # noqa: S704
