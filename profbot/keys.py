"""Every Redis key profbot uses, in one place.

One prefix per deployment (``PROFBOT_REDIS_PREFIX``), so several can share a Redis. Under it
(``P``)::

    job bus (profbot/bus.py, runner/worker.py)
      P:jobs:HOST                  stream per host; consumer group ``runners``
      P:job:ID:claim               set once (NX) by the runner that starts job ID
      P:result:ID                  the job's result (JSON), kept for a day
      P:results                    pub/sub channel announcing finished job ids
      P:runners                    hash HOST -> runner info (JSON): every runner ever seen
      P:runner:HOST:alive          heartbeat, with a TTL
      P:history:HOST:volume:NAME   sorted set of volume size samples (storage growth)

    change requests (profbot/approvals/store.py)
      P:change:ID                  hash: state, version, the request (JSON)
      P:change:ID:step:N           set once (NX) when step N of request ID is taken
      P:changes:pending            sorted set of pending request ids by expiry time
      P:changes:open:TARGET        the one open request per change and target
      P:changes:held:HOST:TARGET   the one open or running request on a container or volume
      P:changes:executed:TARGET    sorted set of executions in the last hour (cooldown)
      P:changes:running            sorted set: running requests by when their executor's lease ends
      P:changes:updates            pub/sub: a request moved (its id), for front ends in other processes
      P:changes:by:USER            sorted set of the user's latest request ids by filing time (App Home)

    the audit trail (profbot/audit.py)
      P:audit                      stream of audit events; group ``slack-mirror``

    offered actions (bot/stores/offers.py)
      P:offer:ID                   a remediation a report offered (JSON); a button carries ID

    alerts (bot/stores/alert_ledger.py)
      P:alerts:group:G             hash: the group's state, its incident, its thread and the previous one
      P:alerts:group:G:alerts      hash fingerprint -> the alert's latest JSON
      P:alerts:group:G:announced   set of fingerprints shown in the thread
      P:alerts:group:G:diagnosed:N set (NX, with TTL) when incident N's diagnosis ran
      P:alerts:group:G:lock        redis-py Lock: one replica brings a group up to date
      P:alerts:ledger              stream: one entry per alert received
      P:alerts:inbox               stream: one entry per webhook; group ``slack-posters``
      P:alerts:parked              set of groups whose channel refused the bot, to post once it takes it
      P:alerts:failures            hash: group -> updates failed in a row (not outages)
      P:alerts:dead                stream: inbox entries dead-lettered after 5 failed updates
      P:alerts:group:G:marks       JSON: the thread's silence and acknowledgement (bot/stores/alert_marks.py)

    App Home (bot/stores/home.py)
      P:home:viewers               sorted set of users by when they last opened the home (a week)
      P:health:last                hash HOST -> Pyroscope's last known health there (JSON)

    scheduled work, once per deployment (profbot/schedule.py)
      P:schedule:NAME              the lease: which replica runs NAME (its holder's name, with a TTL)

    Slack's pace, shared by every serve replica (bot/slack/shared_pacing.py)
      P:slack:pace:CHANNEL         when the channel's next write may go (ms, Redis's clock)
      P:slack:paused:CHANNEL       until when a 429 from Slack holds the channel's writes (ms)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str

    # ------------------------------------------------------------------ job bus

    @property
    def results_channel(self) -> str:
        return f"{self.prefix}:results"

    @property
    def runners(self) -> str:
        return f"{self.prefix}:runners"

    def jobs(self, host: str) -> str:
        return f"{self.prefix}:jobs:{host}"

    def claim(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}:claim"

    def result(self, job_id: str) -> str:
        return f"{self.prefix}:result:{job_id}"

    def alive(self, host: str) -> str:
        return f"{self.prefix}:runner:{host}:alive"

    def volume_history(self, host: str, volume: str) -> str:
        return f"{self.prefix}:history:{host}:volume:{volume}"

    # ------------------------------------------------------------------ change requests

    def change(self, request_id: str) -> str:
        return f"{self.prefix}:change:{request_id}"

    def change_step(self, request_id: str, index: int) -> str:
        return f"{self.prefix}:change:{request_id}:step:{index}"

    @property
    def changes_pending(self) -> str:
        return f"{self.prefix}:changes:pending"

    def change_open(self, target_key: str) -> str:
        return f"{self.prefix}:changes:open:{target_key}"

    def change_held(self, hold_key: str) -> str:
        return f"{self.prefix}:changes:held:{hold_key}"

    def change_held_host_wide(self, host: str) -> str:
        """Held by the one change that touches every container on the host (profiling off everywhere)."""
        return f"{self.prefix}:changes:held-host:{host}"

    def change_holders_on(self, host: str) -> str:
        """Every change holding something on the host, scored by when its hold ends."""
        return f"{self.prefix}:changes:holders:{host}"

    def change_executions(self, target_key: str) -> str:
        return f"{self.prefix}:changes:executed:{target_key}"

    @property
    def changes_running(self) -> str:
        """Running requests, scored by when their executor's lease ends (the reaper's list)."""
        return f"{self.prefix}:changes:running"

    @property
    def changes_lease_seconds(self) -> str:
        """Running request -> the length of the lease that set its end (what the reaper says lapsed)."""
        return f"{self.prefix}:changes:lease_seconds"

    @property
    def changes_feed(self) -> str:
        return f"{self.prefix}:changes:updates"

    def changes_by(self, user: str) -> str:
        return f"{self.prefix}:changes:by:{user}"

    # ------------------------------------------------------------------ audit, offers

    @property
    def audit(self) -> str:
        return f"{self.prefix}:audit"

    def offer(self, offer_id: str) -> str:
        return f"{self.prefix}:offer:{offer_id}"

    # ------------------------------------------------------------------ alerts

    def alert_group(self, gid: str) -> str:
        return f"{self.prefix}:alerts:group:{gid}"

    def alert_marks(self, gid: str) -> str:
        return f"{self.prefix}:alerts:group:{gid}:marks"

    def alert_group_alerts(self, gid: str) -> str:
        return f"{self.alert_group(gid)}:alerts"

    def alert_group_announced(self, gid: str) -> str:
        return f"{self.alert_group(gid)}:announced"

    def alert_group_diagnosed(self, gid: str, incident: int) -> str:
        return f"{self.alert_group(gid)}:diagnosed:{incident}"

    def alert_group_lock(self, gid: str) -> str:
        return f"{self.alert_group(gid)}:lock"

    @property
    def alert_ledger(self) -> str:
        return f"{self.prefix}:alerts:ledger"

    @property
    def alert_inbox(self) -> str:
        return f"{self.prefix}:alerts:inbox"

    @property
    def alert_failures(self) -> str:
        """Hash: alert group -> updates that failed in a row for a reason other than an outage."""
        return f"{self.prefix}:alerts:failures"

    @property
    def alert_dead_letters(self) -> str:
        """Stream: inbox entries whose group could not be brought up to date, kept for a person."""
        return f"{self.prefix}:alerts:dead"

    @property
    def alert_parked(self) -> str:
        return f"{self.prefix}:alerts:parked"

    # ------------------------------------------------------------------ App Home

    @property
    def home_viewers(self) -> str:
        return f"{self.prefix}:home:viewers"

    @property
    def health_last(self) -> str:
        return f"{self.prefix}:health:last"

    # ------------------------------------------------------------------ Slack's pace

    def slack_pace(self, channel: str) -> str:
        return f"{self.prefix}:slack:pace:{channel}"

    def slack_paused(self, channel: str) -> str:
        return f"{self.prefix}:slack:paused:{channel}"

    # ------------------------------------------------------------------ scheduled work

    def schedule_lease(self, name: str) -> str:
        return f"{self.prefix}:schedule:{name}"
