"""The HTTP face of the domain: Powertools REST resolvers, routers and the error mapping."""
