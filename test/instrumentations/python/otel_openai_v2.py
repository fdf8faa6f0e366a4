"""OpenTelemetry's official OpenAI instrumentation (opentelemetry-instrumentation-openai-v2)."""

from common import agent_run, finish, openai_calls, setup_tracing

provider = setup_tracing("py-otel-openai-v2")
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor  # noqa: E402

OpenAIInstrumentor().instrument(tracer_provider=provider)
agent_run("gen_ai", openai_calls)
finish(provider)
