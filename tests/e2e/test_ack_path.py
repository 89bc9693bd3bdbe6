"""What a slash command's acknowledgement waits on, on a real `profbot serve`: no Slack call. The
user groups' members are read at start and in the background, and the acks answer from them."""

from __future__ import annotations

from tests.e2e.conftest import ack_text
from tests.rig.processes import BotProcess
from tests.rig.slack_requests import APPROVER, STRANGER, post_command
from tests.rig.slack_standin import SlackStandIn


def test_a_group_member_is_recognised_from_the_groups_read_at_start(bot: BotProcess, slack: SlackStandIn) -> None:
    read = len(slack.wait_for("usergroups.users.list"))  # read at start, before anyone asked
    for name, user in (("a1", APPROVER), ("s1", STRANGER), ("a2", APPROVER), ("s2", STRANGER)):
        ack = post_command(bot.url, "approve 1a2b3c4d", response_url=slack.response_url(name), user=user)
        assert ack.status_code == 200
        if user == APPROVER:  # an approver through the user group may decide
            assert "not an operator" not in ack_text(ack)
            assert "not known" in slack.said(name)  # ...and is told there is no such request
        else:  # an unknown user is refused in the ack
            assert "you are not an operator of profbot" in ack_text(ack)
    assert len(slack.calls_to("usergroups.users.list")) == read  # no ack asked Slack who is in the group
