"""What every Touchpoint process needs and nothing domain-specific: settings, structured logging, the Kafka
producer/consumer/admin wiring, the PostgreSQL pool and migrations, health checks and graceful shutdown."""
