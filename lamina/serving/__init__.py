"""An OpenAI-compatible HTTP server over a lamina agent (`lamina serve`).

- :mod:`lamina.serving.protocol`: the request bodies and response shapes.
- :mod:`lamina.serving.admission`: the bounded queue per model (429 when full).
- :mod:`lamina.serving.app`: the FastAPI application (`create_app`).
- :mod:`lamina.serving.direct`: a model talked to by name: tools, tool choice, stop, `n` checked
  and turned into chat-model calls; :mod:`lamina.serving.direct_replies` answers them.
- :mod:`lamina.serving.tenants`: API keys bound to tenants (`lamina serve --keys`).
- :mod:`lamina.serving.failures`: every error in OpenAI's shape, the framework's included.
- :mod:`lamina.serving.redaction`: a tool's exception text replaced by an error id.
- the `lamina serve` command is in :mod:`lamina.cli.serve`.

FastAPI and uvicorn are imported only here, so `import lamina` stays light.
"""
