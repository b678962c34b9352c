"""CAP 1.2, the Common Alerting Protocol: the words both directions share.

Warning systems send CAP (publisher.sources: received, validated, turned into announcements);
the built-in website publishes each warning as CAP as well (publisher.site). Both validate against
the OASIS schema kept beside this module.
"""

from __future__ import annotations

from pathlib import Path

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_SCHEMA = Path(__file__).parent / "schemas" / "cap12.xsd"
