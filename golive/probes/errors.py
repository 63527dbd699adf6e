"""The error every probe raises when it cannot look."""

from __future__ import annotations

from golive.masking import mask_url


class ProbeError(Exception):
    """A component could not be reached, timed out, or answered something unusable.

    The message names the component and the endpoint (credentials masked) and says what was seen, so the
    check that used the probe fails with a line a release engineer can act on.
    """

    def __init__(self, component: str, endpoint: str, detail: str) -> None:
        self.component = component
        self.endpoint = mask_url(endpoint)
        self.detail = mask_url(detail)
        super().__init__(f"{component} at {self.endpoint}: {self.detail}")
