"""Import CRM contacts (HubSpot, Salesforce) into `raw.crm_contacts` for identity resolution."""

from __future__ import annotations

from cdpkit.crm_import.run import ImportSummary, import_contacts

__all__ = ["ImportSummary", "import_contacts"]
