"""stepkit: serverless ML workflows on your machine."""
