"""Call sources: each PBX's signature check, wire model, normalizer to `CallEvent` and webhook, one module each."""
