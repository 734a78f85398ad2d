"""create-plugin: generate a working Greenroom provider plugin package."""
