# Chinese messages of EPCIS capture (gi_trace/tracing/epcis_capture, POST /api/v1/epcis/capture).
