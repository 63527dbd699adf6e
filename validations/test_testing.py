"""Testing and validation: the test suites, load and security tests the release went through."""

import pytest

from golive.fixtures import attestation_params

pytestmark = pytest.mark.pre


@pytest.mark.parametrize("item", attestation_params(__file__))
def test_signed(item, attestations):
    """A person in an allowed role has signed this checklist item for the release."""
    attestations.assert_signed(item)
