"""Arize OpenInference's Anthropic instrumentation, with the SDK's own spans switched off
(ANTHROPIC_OPEN_TELEMETRY=false) so each call is reported once."""

import os

os.environ["ANTHROPIC_OPEN_TELEMETRY"] = "false"

from common import agent_run, anthropic_calls, finish, setup_tracing  # noqa: E402

provider = setup_tracing("py-openinference-anthropic")
from openinference.instrumentation.anthropic import AnthropicInstrumentor  # noqa: E402

AnthropicInstrumentor().instrument(tracer_provider=provider)
agent_run("openinference", anthropic_calls)
finish(provider)
