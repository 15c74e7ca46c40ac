"""What every verb goes through: the invocation (connection, namespace, output, offline mode), the
read -> plan -> guard -> apply loop on the app's route object, and stepped rollouts with their gates."""
