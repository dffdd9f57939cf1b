"""What every Touchpoint process needs: settings (with the company facts all services share), the secret rule,
structured logging, the Kafka producer/consumer/admin wiring and topic settings, the PostgreSQL pool and
migrations, health checks, and a start-up that waits for dependencies but stops on what waiting cannot fix."""
