"""Arize OpenInference's OpenAI instrumentation (openinference-instrumentation-openai)."""

from common import agent_run, finish, openai_calls, setup_tracing

provider = setup_tracing("py-openinference-openai")
from openinference.instrumentation.openai import OpenAIInstrumentor  # noqa: E402

OpenAIInstrumentor().instrument(tracer_provider=provider)
agent_run("openinference", openai_calls)
finish(provider)
