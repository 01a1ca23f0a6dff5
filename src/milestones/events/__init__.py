"""Events: the CloudEvents a platform follows, and the AsyncAPI document that describes them."""
