"""What the plots-and-inputs API takes and answers (GET /plots, POST and GET /plots/{id}/inputs)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from gi_trace.registry.models import Plot
from gi_trace.schemas import Body, Public, Query
from gi_trace.tracing.models_inputs import PlotInput
from gi_trace.tracing.services.inputs import earliest_harvest


class PlotPublic(Public):
    """One of the party's plots."""

    id: int
    name: str
    town_code: str
    area_mu: float
    cultivar: str
    latitude: Optional[float]
    longitude: Optional[float]
    inputs_recorded: int = Field(description="Input records on the plot, all seasons, corrections included")

    @classmethod
    def of(cls, plot: Plot, count: int) -> "PlotPublic":
        return cls(id=plot.id, name=plot.name, town_code=plot.town_code, area_mu=plot.area_mu, cultivar=plot.cultivar,
                   latitude=plot.latitude, longitude=plot.longitude, inputs_recorded=count)


class PlotList(Public):
    """The party's own plots."""

    plots: list[PlotPublic]


class PlotInputCreate(Body):
    kind: Literal["pesticide", "fertiliser", "other"] = Field(description="pesticide 用药, fertiliser 施肥, other")
    product_name: str = Field(description="The product applied, as on its label")
    registration_no: Optional[str] = Field(None, description="农药登记证号, e.g. PD20080001 (required for a pesticide)")
    active_ingredient: Optional[str] = Field(None, description="有效成分 (required for a pesticide)")
    dose: str = Field(description="How much, e.g. 1500倍液 or 40 kg/亩")
    applied_on: str = Field(description="The day it was applied, YYYY-MM-DD")
    safety_interval_days: Optional[int] = Field(None, description="安全间隔期 in days (required for a pesticide); no "
                                                                "harvest from the plot before applied_on + this")
    applied_by: Optional[str] = Field(None, description="Who applied it (never shown on public pages)")
    supersedes: Optional[int] = Field(None, description="The id of an earlier record of this plot this one corrects")
    correction_reason: Optional[str] = Field(None, description="Why the earlier record is corrected (with supersedes)")


class PlotInputPublic(Public):
    """An input applied on a plot (never edited: a correction is a new record that supersedes it)."""

    id: int
    plot_id: int
    season: int
    kind: Literal["pesticide", "fertiliser", "other"]
    product_name: str
    registration_no: Optional[str]
    active_ingredient: Optional[str]
    dose: Optional[str]
    applied_on: str
    safety_interval_days: Optional[int]
    earliest_harvest: Optional[str] = Field(description="The first day a harvest from the plot is allowed")
    applied_by: Optional[str]
    recorded_at: str
    supersedes: Optional[int]
    correction_reason: Optional[str]
    superseded_by: Optional[int]
    source_event_id: Optional[int] = Field(description="The planting event this record was moved from, if any")

    @classmethod
    def of(cls, record: PlotInput, superseded_by: Optional[int] = None) -> "PlotInputPublic":
        allowed = earliest_harvest(record)
        return cls(id=record.id, plot_id=record.plot_id, season=record.season, kind=record.kind,
                   product_name=record.product_name, registration_no=record.registration_no or None,
                   active_ingredient=record.active_ingredient or None, dose=record.dose or None,
                   applied_on=record.applied_on.isoformat(), safety_interval_days=record.safety_interval_days,
                   earliest_harvest=allowed.isoformat() if allowed else None, applied_by=record.applied_by or None,
                   recorded_at=record.recorded_at.isoformat(), supersedes=record.supersedes_id,
                   correction_reason=record.correction_reason or None, superseded_by=superseded_by,
                   source_event_id=record.source_event_id)


class PlotInputList(Public):
    """A plot's input records (of one season when asked)."""

    plot: PlotPublic
    season: Optional[int]
    inputs: list[PlotInputPublic]


class PlotInputsQuery(Query):
    season: Optional[int] = Field(None, ge=1900, le=2200, description="Only this season (year of application)")
    include_superseded: bool = Field(False, description="Also the records later corrected (with superseded_by)")
