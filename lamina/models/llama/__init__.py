"""Everything that touches llama.cpp directly: what the installed build can do, and its checks.

`build_info` reads what llama-cpp-python was compiled with (`llama_print_system_info`, the shared
libraries) and what this CPU offers, and names the combinations known to crash.
"""
