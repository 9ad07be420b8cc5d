"""stepkit on LocalStack without Docker.

- :mod:`stepkit.localstack_plugin.host`: LocalStack's own venv, start on the host, stop by pid
  (standard library only; used by ``localstack/*.sh``, the test fixtures and the deployer).
- :mod:`stepkit.localstack_plugin.stepkit_localstack`: the ``stepkit`` Lambda runtime executor,
  installed into LocalStack's venv (it imports LocalStack, so stepkit never imports it).
- :mod:`stepkit.localstack_plugin.helper`: the process, on stepkit's Python, in which that
  executor runs handlers with stepkit's Lambda runtime.

Nothing here is imported by ``import stepkit``.
"""
