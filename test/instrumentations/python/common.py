"""Shared set-up for the instrumentation scripts: a global tracer provider exporting
OTLP/HTTP protobuf to the aispm gateway, and the calls every script makes against
the local fake provider (models as in fake-provider.ts)."""

import json
import os
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

PROVIDER_URL = os.environ["FAKE_PROVIDER_URL"]
AGENT = os.environ.get("AGENT_NAME", "weather-agent")

# Each convention's agent span (name and attributes) and tool span attributes. Only the agent
# span names the agent: the libraries never repeat it on the spans below it.
CONVENTIONS = {
    "gen_ai": (
        f"invoke_agent {AGENT}",
        {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": AGENT},
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"},
    ),
    "openinference": (
        AGENT,
        {"openinference.span.kind": "AGENT", "agent.name": AGENT},
        {"openinference.span.kind": "TOOL", "tool.name": "get_weather"},
    ),
    "traceloop": (
        f"{AGENT}.agent",
        {"traceloop.span.kind": "agent", "traceloop.entity.name": AGENT},
        {"traceloop.span.kind": "tool", "traceloop.entity.name": "get_weather"},
    ),
}


def setup_tracing(app: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": app}))
    if os.environ.get("DUMP_SPANS") == "1":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        exporter = OTLPSpanExporter(
            endpoint=os.environ["AISPM_TRACES_ENDPOINT"],
            headers={"Authorization": f"Bearer {os.environ['AISPM_KEY']}"},
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def openai_calls() -> None:
    import openai

    client = openai.OpenAI(base_url=f"{PROVIDER_URL}/v1", api_key="sk-test-not-a-real-key", max_retries=0)
    messages = [{"role": "user", "content": "Say hello"}]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages, user="user-42")
    client.chat.completions.create(model="gpt-4.1", messages=messages, tools=[WEATHER_TOOL])
    stream = client.chat.completions.create(
        model="gpt-4o", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    for _ in stream:
        pass
    client.embeddings.create(model="text-embedding-3-small", input="hello world")
    try:
        client.chat.completions.create(model="o3-mini", messages=messages)
    except openai.InternalServerError:
        pass
    else:
        sys.exit("expected a 500 from the fake provider")


def anthropic_calls() -> None:
    import anthropic

    client = anthropic.Anthropic(base_url=PROVIDER_URL, api_key="sk-ant-test-not-a-real-key", max_retries=0)
    messages = [{"role": "user", "content": "Say hello"}]
    client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=messages)
    client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=64,
        messages=messages,
        tools=[
            {
                "name": "get_weather",
                "description": "Weather in a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    )
    stream = client.messages.create(model="claude-3-5-haiku", max_tokens=64, messages=messages, stream=True)
    for _ in stream:
        pass
    try:
        client.messages.create(model="claude-opus-4-1", max_tokens=64, messages=messages)
    except anthropic.InternalServerError:
        pass
    else:
        sys.exit("expected a 500 from the fake provider")


def agent_run(convention: str, calls) -> None:
    """The calls inside an agent run: agent span → a plain step span (no AI attributes) → the
    library's call spans, and a tool span; the agent span ends, and is exported, last."""
    name, agent_attributes, tool_attributes = CONVENTIONS[convention]
    tracer = trace.get_tracer("aispm-instrumentation-test")
    with tracer.start_as_current_span(name, attributes=agent_attributes):
        with tracer.start_as_current_span("plan step"):
            calls()
            with tracer.start_as_current_span("get_weather", attributes=tool_attributes):
                pass


def finish(provider: TracerProvider) -> None:
    provider.force_flush()
    provider.shutdown()
    print(json.dumps({"done": True}))
