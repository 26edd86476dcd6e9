"""The Wyoming protocol: client engines for remote speech servers, and `voice-agent serve`."""
