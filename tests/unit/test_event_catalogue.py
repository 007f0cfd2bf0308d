"""The catalogue of event kinds and channels is the one list: the API's channel names, the
preference kinds and the worker's policies all agree with it."""

from typing import get_args

from backend.events import kinds
from backend.messaging.schemas import ChannelName
from backend.messaging.services import PREFERENCE_KINDS
from notifications.kinds import KINDS


def test_the_api_names_the_catalogues_channels() -> None:
    assert set(get_args(ChannelName)) == set(kinds.CHANNELS)
    assert set(kinds.FALLBACK_ORDER) == set(kinds.CHANNELS)


def test_families_may_set_preferences_for_every_kind_they_hear_about() -> None:
    assert set(PREFERENCE_KINDS) == {"*", *kinds.NOTIFIED}
    assert set(KINDS) == {*kinds.NOTIFIED, *kinds.STAFF_NOTIFIED, kinds.PASSWORD_RESET_CODE}
