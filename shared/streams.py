"""The faust-streaming runtime, set up once for every service.

faust's worker consumer hard-codes ``fetch_max_wait_ms=1500``; brokers that hold a fetch for the
full wait (the embedded one does) then add up to 1.5 s to every hop. The small subclasses below
replace that one value with ``ONRAMP_KAFKA_FETCH_MAX_WAIT_MS`` and change nothing else.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from shared.consumer import RawRecord, RecordProcessor
from shared.settings import Settings


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        app = self.app
        assert isinstance(app, StreamApp)
        consumer._fetch_max_wait_ms = app.fetch_max_wait_ms  # read when the consumer starts
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class StreamApp(faust.App):
    """A faust app for one service: raw bytes in, no tables, no web server."""

    fetch_max_wait_ms: int = 20
    joined: bool = False

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    @property
    def assigned(self) -> bool:
        """The group has been joined and no rebalance is under way."""
        return self.joined and not self.rebalancing


def _credentials(settings: Settings) -> Any:
    if settings.kafka_sasl_mechanism:
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=None,
        )
    if settings.kafka_security_protocol == "SSL":
        import ssl

        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        return faust.SSLCredentials(ssl.create_default_context(cafile=cafile))
    return None


def create_stream_app(service: str, settings: Settings) -> StreamApp:
    app = StreamApp(
        f"onramp-{service}-faust",
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=_credentials(settings),
        web_enabled=False,
        store="memory://",
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_rebalance_timeout=settings.kafka_rebalance_timeout_s,
        broker_heartbeat_interval=settings.kafka_heartbeat_interval_s,
        broker_commit_interval=0.5,
        producer_acks=-1,
        logging_config=None,
        loghandlers=[],
    )
    app.fetch_max_wait_ms = settings.kafka_fetch_max_wait_ms

    def on_assigned(sender: Any, /, *_: Any, signal: Any, **__: Any) -> None:
        app.joined = True

    app.on_partitions_assigned.connect(on_assigned)
    return app


def subscribe(
    app: StreamApp,
    topic: str,
    processor: RecordProcessor,
    *,
    batch_size: int = 2000,
    batch_wait_s: float = 0.01,
) -> None:
    """Run ``processor`` over ``topic`` as a concurrency=1 agent with manual acknowledgement.

    The agent takes up to ``batch_size`` records, waiting at most ``batch_wait_s`` for more, and
    acknowledges them only after the wrapper committed or dead-lettered them all. ``noack_take``
    is the one faust batching call that does not acknowledge in a ``finally``.
    """
    channel = app.topic(topic, value_serializer="raw", key_serializer="raw")

    async def agent(stream: Any) -> None:
        async for events in stream.noack().noack_take(batch_size, within=batch_wait_s):
            await processor.process_batch([RawRecord.of(event.message) for event in events])
            for event in events:
                event.ack()  # only now may the offsets be committed

    app.agent(channel, name=processor.consumer, concurrency=1)(agent)


def quiet_faust_logging(level: str) -> None:
    """faust sets the root logger to DEBUG when it starts; put it back."""
    logging.getLogger().setLevel(level.upper())
