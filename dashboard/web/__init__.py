"""Page rendering shared by every feature: layout, errors, headers, request gate, i18n, dates."""
