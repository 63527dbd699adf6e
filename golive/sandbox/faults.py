"""Faults the sandbox can switch on (and off): app fault files, HAProxy weights and health checks, a RabbitMQ
memory alarm, a small Redis limit, filled and poisoned queues, and data faults."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from golive.sandbox import constants as c
from golive.sandbox.base import Base
from golive.sandbox.clients import amqp_channel, haproxy_command, pg_connect, queue_counts, rabbitmqctl, redis_client
from golive.sandbox.state import ENVIRONMENTS, SandboxError

DEFAULT_FILL = 1500
DATA_FAULT_TABLES = ("messages",)  # delete-rows: integrity tables no foreign key points at


class Faults(Base):
    def write_fault(
        self, env: str, error_rate: float | None, latency_ms: float | None, dependency_down: str | None = None
    ) -> dict[str, Any]:
        path = self.paths.fault_file(env)
        try:
            current = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            current = {}
        if error_rate is not None:
            current["error_rate"] = error_rate
        if latency_ms is not None:
            current["latency_ms"] = latency_ms
        if dependency_down is not None:
            current["dependency_down"] = sorted({*current.get("dependency_down", []), dependency_down})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(current))
        tmp.replace(path)
        return current

    def clear_fault_files(self) -> None:
        for env in ENVIRONMENTS:
            self.paths.fault_file(env).unlink(missing_ok=True)

    def haproxy_weight(self, server: str) -> int:
        answer = haproxy_command(self.paths.haproxy_socket, f"get weight be/{server}").strip()
        # "100 (initial 100)"
        try:
            return int(answer.split()[0])
        except (IndexError, ValueError):
            raise SandboxError(f"HAProxy answered {answer!r} to `get weight be/{server}`") from None

    def set_haproxy_weights(self, blue: int, green: int) -> None:
        for server, weight in (("blue", blue), ("green", green)):
            answer = haproxy_command(self.paths.haproxy_socket, f"set server be/{server} weight {weight}").strip()
            if answer:
                raise SandboxError(f"HAProxy refused `set server be/{server} weight {weight}`: {answer}")

    def set_haproxy_health(self, server: str, enabled: bool) -> None:
        """Turn HAProxy's health checks of be/SERVER off (as if its `check` were missing) or back on."""
        command = f"{'enable' if enabled else 'disable'} health be/{server}"
        answer = haproxy_command(self.paths.haproxy_socket, command).strip()
        if answer:
            raise SandboxError(f"HAProxy refused `{command}`: {answer}")

    def memory_alarm(self, raise_it: bool) -> None:
        if raise_it:
            if "rabbitmq_watermark" not in self.state.restore:
                self.state.restore["rabbitmq_watermark"] = rabbitmqctl(
                    "eval", "vm_memory_monitor:get_vm_memory_high_watermark()."
                )
                self.state.save(self.paths.state_file)
            rabbitmqctl("set_vm_memory_high_watermark", "0.0000001")
            return
        original = self.state.restore.get("rabbitmq_watermark")
        if original is None:
            return
        rabbitmqctl("set_vm_memory_high_watermark", *_watermark_args(original))
        del self.state.restore["rabbitmq_watermark"]

    def redis_maxmemory(self, shrink: bool, limit_bytes: int | None = None) -> int:
        client = redis_client()
        if shrink:
            if "redis_maxmemory" not in self.state.restore:
                self.state.restore["redis_maxmemory"] = str(client.config_get("maxmemory")["maxmemory"])
                self.state.save(self.paths.state_file)
            used = int(client.info("memory")["used_memory"])
            # Just above what is used: memory usage reads ~95 % of the limit without refusing every write
            # of the other users of this shared Redis.
            limit = limit_bytes if limit_bytes is not None else int(used / 0.95)
            client.config_set("maxmemory", str(limit))
            return limit
        original = self.state.restore.pop("redis_maxmemory", None)
        if original is not None:
            client.config_set("maxmemory", original)
            return int(original)
        return int(str(client.config_get("maxmemory")["maxmemory"]))

    def _unset_redis_limit(self) -> None:
        original = self.state.restore.pop("redis_maxmemory_unset", None)
        if original is not None:
            redis_client().config_set("maxmemory", original)

    def fill_queue(self, queue: str, count: int) -> None:
        if queue == c.TASK_QUEUE and self._record_alive("worker"):
            self.stop_worker()
        self.state.restore["filled_queues"] = sorted({*self.state.restore.get("filled_queues", []), queue})
        self.state.save(self.paths.state_file)
        body = json.dumps({"filler": True, "payload": {"filler": True}}).encode()
        with amqp_channel() as channel:
            for _ in range(count):
                channel.basic_publish(exchange="", routing_key=queue, body=body)

    def stop_worker(self) -> None:
        """Stop the agent worker and wait (bounded) until the broker has dropped its consumer: until then a new
        message could still be handed to the dead connection instead of waiting in the queue."""
        self._stop_service("worker")
        self._wait("the worker's consumer to leave agent.tasks", self._no_consumer, None, timeout_s=15)

    def _no_consumer(self) -> str | None:
        _messages, consumers = queue_counts(c.TASK_QUEUE)
        return None if consumers == 0 else f"{c.TASK_QUEUE} still has {consumers} consumer(s)"

    def poison(self, count: int) -> None:
        body = json.dumps({"poison": True, "payload": {"poison": True}}).encode()
        with amqp_channel() as channel:
            for _ in range(count):
                channel.basic_publish(exchange="", routing_key=c.TASK_QUEUE, body=body)
        self.state.restore["filled_queues"] = sorted(
            {*self.state.restore.get("filled_queues", []), c.TASK_QUEUE, c.DEAD_LETTER_QUEUE}
        )

    def clear_queues(self) -> None:
        queues = {*self.state.restore.pop("filled_queues", []), c.DEAD_LETTER_QUEUE}
        with amqp_channel() as channel:
            for queue in sorted(queues):
                channel.queue_purge(queue)

    # --- data faults: sandbox-side writes that Gate 3's data-integrity checks must catch ----------------
    # Each records the statements that undo it in state.restore["data_undo"]; clear_data_faults runs them.

    def _data_change(self, change: str, params: tuple[Any, ...], undo: Callable[[list[Any]], list[list[Any]]]) -> int:
        """Run one write on the sandbox database; record the undo statements built from the rows it returns."""
        with pg_connect(c.PRIMARY_PORT, c.DATABASE) as conn, conn.transaction():
            returned = [list(row) for row in conn.execute(change.encode(), params).fetchall()]
        undos = [statement for row in returned for statement in undo(row)]
        self.state.restore["data_undo"] = [*self.state.restore.get("data_undo", []), *undos]
        self.state.save(self.paths.state_file)
        return len(returned)

    def delete_rows(self, table: str, count: int) -> int:
        """Delete the newest ``count`` rows of an integrity table (as data lost in a cutover would be)."""
        if table not in DATA_FAULT_TABLES:
            raise SandboxError(f"delete-rows: choose a table of {', '.join(DATA_FAULT_TABLES)}")
        deleted = self._data_change(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id DESC LIMIT %s)"
            f" RETURNING row_to_json({table}.*)::text",
            (count,),
            lambda row: [[f"INSERT INTO {table} SELECT * FROM json_populate_record(NULL::{table}, %s::json)", row]],
        )
        if deleted < count:
            raise SandboxError(f"delete-rows: {table} had only {deleted} row(s) to delete")
        return deleted

    def break_invariant(self) -> None:
        """Insert a message whose agent does not exist: violates "every message belongs to a known agent"."""
        self._data_change(
            "INSERT INTO messages (agent_id, role, content)"
            " VALUES (-1, 'assistant', 'orphan written by golive sandbox') RETURNING id",
            (),
            lambda row: [["DELETE FROM messages WHERE id = %s", row]],
        )

    def change_immutable(self) -> None:
        """Change reference data that must not change across a cutover: the kind of agent ``scheduler``."""
        changed = self._data_change(
            "WITH old AS (SELECT id, kind FROM agents WHERE name = 'scheduler' FOR UPDATE)"
            " UPDATE agents SET kind = old.kind || '-changed' FROM old WHERE agents.id = old.id"
            " RETURNING agents.id, old.kind",
            (),
            lambda row: [["UPDATE agents SET kind = %s WHERE id = %s", [row[1], row[0]]]],
        )
        if not changed:
            raise SandboxError("change-immutable: agent 'scheduler' not found")

    def clear_data_faults(self) -> int:
        """Undo every data fault, newest first, in one transaction; return how many statements ran."""
        undos = self.state.restore.get("data_undo", [])
        if undos:
            with pg_connect(c.PRIMARY_PORT, c.DATABASE) as conn, conn.transaction():
                for statement, params in reversed(undos):
                    conn.execute(statement.encode(), params)
            del self.state.restore["data_undo"]
            self.state.save(self.paths.state_file)
        return len(undos)


def _watermark_args(original: str) -> list[str]:
    """``0.4`` -> ["0.4"]; ``{absolute,1073741824}`` -> ["absolute", "1073741824"]."""
    text = original.strip()
    if text.startswith("{absolute,"):
        return ["absolute", text.removeprefix("{absolute,").rstrip("}").strip()]
    return [text]
