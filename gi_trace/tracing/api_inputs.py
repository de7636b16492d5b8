"""API of plots and their inputs: GET /api/v1/plots, POST and GET /api/v1/plots/{id}/inputs.

A party sees and records inputs only on its own plots: any other plot answers 404, as an unknown one
does. Shapes are in `tracing/schemas_inputs.py`; rules in `tracing/services/inputs.py`.
"""
from __future__ import annotations

from gi_trace.access import access, actor
from gi_trace.api import Load, api_bp, operation
from gi_trace.db import get_session
from gi_trace.tracing.schemas_inputs import (PlotInputCreate, PlotInputList, PlotInputPublic, PlotInputsQuery,
                                             PlotList, PlotPublic)
from gi_trace.tracing.services import inputs

PLOT = {"plot_id": "The plot's id (GET /plots)"}
NOT_YOURS = "Unknown plot, or another party's plot"


@api_bp.get("/plots")
@access("producer")
@operation(responses={200: PlotList}, tags=["inputs"])
def list_plots():
    """The party's own plots."""
    session = get_session()
    plots = inputs.own_plots(session, actor())
    counts = inputs.count_inputs(session, [p.id for p in plots])
    return PlotList(plots=[PlotPublic.of(p, counts.get(p.id, 0)) for p in plots])


@api_bp.post("/plots/<int:plot_id>/inputs")
@access("producer")
@operation(body=PlotInputCreate, responses={201: PlotInputPublic}, errors={404: NOT_YOURS, 409: "Already corrected"},
           path=PLOT, tags=["inputs"])
def record_plot_input(plot_id: int, body: Load[PlotInputCreate]):
    """Record an input (施肥, 用药, other) applied on one of the party's plots; a banned substance is refused."""
    session = get_session()
    plot = inputs.own_plot(session, actor(), plot_id)
    given = body()
    record = inputs.record_input(session, actor(), plot, inputs.InputData(**given.model_dump()))
    return PlotInputPublic.of(record), 201


@api_bp.get("/plots/<int:plot_id>/inputs")
@access("producer")
@operation(query=PlotInputsQuery, responses={200: PlotInputList}, errors={404: NOT_YOURS}, path=PLOT,
           tags=["inputs"])
def list_plot_inputs(plot_id: int, query: PlotInputsQuery):
    """A plot's input records, newest application first (of one season with ?season=2025)."""
    session = get_session()
    plot = inputs.own_plot(session, actor(), plot_id)
    rows = inputs.inputs_of(session, plot, query.season, include_superseded=query.include_superseded)
    by = {r.supersedes_id: r.id for r in inputs.inputs_of(session, plot, include_superseded=True) if r.supersedes_id}
    counts = inputs.count_inputs(session, [plot.id])
    return PlotInputList(plot=PlotPublic.of(plot, counts.get(plot.id, 0)), season=query.season,
                         inputs=[PlotInputPublic.of(r, by.get(r.id)) for r in rows])
