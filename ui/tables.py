"""A server-side table: search, sort, filters, grouping, pagination, CSV/PDF export, rendered for htmx.

A view builds a `DataTable` over an already scoped queryset (`Model.objects.for_user(user, action)`), returns
`table.export_response()` when it is not None, and renders `ui/_table.html` with `table` in the context.
Every control is a plain link or form (works without JavaScript); htmx swaps only `#<table_id>` region.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.utils.html import conditional_escape, format_html

from portal.exports import csv_response, pdf_response

__all__ = ["Column", "Grouping", "DataTable", "resolve", "when_column"]


def resolve(obj: Any, path: str | Callable | None) -> Any:
    """`obj.a.b` for path "a.b" (None-safe), or `path(obj)` when callable."""
    if path is None:
        return None
    if callable(path):
        return path(obj)
    value = obj
    for part in path.split("."):
        if value is None:
            return None
        value = getattr(value, part, None)
        if callable(value) and not hasattr(value, "all"):
            value = value()
    return value


@dataclass
class Column:
    key: str
    label: str
    value: str | Callable | None = None  # attribute path ("router.name") or callable(obj); export + display
    order_by: str | None = None  # ORM path; None = not sortable
    render: Callable[[Any], str] | None = None  # HTML for display (use format_html)
    export: bool = True
    css: str = ""
    clickable: bool = True  # clicking the cell puts its text in the search box
    # 1: always shown; 2: hidden on narrow screens (under 1280 px); 3: hidden unless chosen in "Columns".
    priority: int = 1

    def __post_init__(self):
        if self.value is None:
            self.value = self.key


def when_column(key: str, label: str, attr: str | Callable, order_by: str | None = None, *, mode: str = "auto",
                never: str = "never", **kwargs) -> Column:
    """A moment (`attr`: attribute path or callable) shown as people read it ("3 minutes ago", a local date; the
    exact time on hover), exported as ISO 8601."""
    from ui.humanize import when

    def value(obj):
        moment = resolve(obj, attr)
        return moment.isoformat() if moment else ""

    kwargs.setdefault("css", "nowrap")
    return Column(key, label, value=value, order_by=order_by, clickable=False,
                  render=lambda obj: when(resolve(obj, attr), mode=mode, never=never), **kwargs)


@dataclass
class Grouping:
    key: str
    label: str
    field: str  # ORM path used for ordering and counting
    display: Callable[[Any], str] | None = None  # turns the raw group value into a label


@dataclass
class Cell:
    html: str
    text: str
    column: Column


@dataclass
class Row:
    obj: Any
    cells: list[Cell]
    group_label: str | None = None
    group_count: int | None = None


@dataclass
class DataTable:
    request: Any
    queryset: QuerySet
    columns: Sequence[Column]
    table_id: str = "data-table"
    title: str = "Export"
    export_name: str = "export"
    search_fields: Sequence[str] = ()
    default_sort: str = ""
    page_size: int = 25
    groupings: Sequence[Grouping] = ()
    filters: dict[str, Callable[[QuerySet, str], QuerySet]] = field(default_factory=dict)
    empty_message: str = "Nothing to show."
    page_sizes: Sequence[int] = (25, 50, 100)

    def __post_init__(self):
        params = self.request.GET
        self.q = (params.get("q") or "").strip()[:200]
        self.active_filters = {key: params.get(key) for key in self.filters if params.get(key)}
        self.group_key = params.get("group") or ""
        self.grouping = next((g for g in self.groupings if g.key == self.group_key), None)
        if not self.grouping:
            self.group_key = ""
        sort = params.get("sort") or self.default_sort
        self.sort_key = sort.lstrip("-")
        self.sort_desc = sort.startswith("-")
        self.sort_column = next((c for c in self.columns if c.key == self.sort_key and c.order_by), None)
        if not self.sort_column:
            self.sort_key, self.sort_desc = "", False
        try:
            size = int(params.get("size") or self.page_size)
        except ValueError:
            size = self.page_size
        self.size = size if size in self.page_sizes or size == self.page_size else self.page_size
        self._filtered = None
        self._page = None

    # Query -----------------------------------------------------------------
    def filtered(self) -> QuerySet:
        if self._filtered is not None:
            return self._filtered
        qs = self.queryset
        for key, value in self.active_filters.items():
            qs = self.filters[key](qs, value)
        if self.q and self.search_fields:
            for term in self.q.split()[:8]:
                qs = qs.filter(reduce(operator.or_, (Q(**{f"{f}__icontains": term}) for f in self.search_fields)))
        ordering = []
        if self.grouping:
            ordering.append(self.grouping.field)
        if self.sort_column:
            ordering.append(("-" if self.sort_desc else "") + self.sort_column.order_by)
        if ordering:
            ordering.append("-pk" if self.sort_desc else "pk")
            qs = qs.order_by(*ordering)
        self._filtered = qs
        return qs

    @property
    def page(self):
        if self._page is None:
            paginator = Paginator(self.filtered(), self.size)
            self._page = paginator.get_page(self.request.GET.get("page"))
        return self._page

    @property
    def total(self) -> int:
        return self.page.paginator.count

    def rows(self) -> list[Row]:
        rows = []
        counts = {}
        if self.grouping:
            counts = {
                r[self.grouping.field]: r["n"]
                for r in self.filtered().order_by().values(self.grouping.field).annotate(n=Count("pk"))
            }
        previous = object()
        for obj in self.page.object_list:
            cells = [self._cell(obj, c) for c in self.columns]
            row = Row(obj=obj, cells=cells)
            if self.grouping:
                value = resolve(obj, self.grouping.field.replace("__", "."))
                if value != previous:
                    raw = value
                    label = self.grouping.display(raw) if self.grouping.display else (raw if raw not in (None, "") else "(none)")
                    row.group_label = str(label)
                    row.group_count = counts.get(getattr(raw, "pk", raw), counts.get(raw))
                    previous = value
            rows.append(row)
        return rows

    def _cell(self, obj, column: Column) -> Cell:
        value = resolve(obj, column.value)
        text = "" if value is None else str(value)
        if column.render:
            html = column.render(obj)
        else:
            html = conditional_escape(text) if text else format_html('<span class="muted">—</span>')
        return Cell(html=html, text=text, column=column)

    # URLs ------------------------------------------------------------------
    def state(self) -> dict[str, str]:
        state = {key: value for key, value in self.active_filters.items()}
        if self.q:
            state["q"] = self.q
        if self.sort_key:
            state["sort"] = ("-" if self.sort_desc else "") + self.sort_key
        if self.group_key:
            state["group"] = self.group_key
        if self.size != self.page_size:
            state["size"] = str(self.size)
        return state

    def url(self, **changes) -> str:
        state = self.state()
        if "page" not in changes:
            state.pop("page", None)
        for key, value in changes.items():
            if value in (None, ""):
                state.pop(key, None)
            else:
                state[key] = str(value)
        return "?" + urlencode(state) if state else "?"

    def headers(self):
        for column in self.columns:
            url = None
            direction = ""
            if column.order_by:
                if self.sort_key == column.key:
                    direction = "desc" if self.sort_desc else "asc"
                    url = self.url(sort=column.key if self.sort_desc else "-" + column.key)
                else:
                    url = self.url(sort=column.key)
            yield {"column": column, "url": url, "direction": direction}

    def group_links(self):
        yield {"label": "None", "url": self.url(group=None), "active": not self.group_key, "key": ""}
        for g in self.groupings:
            yield {"label": g.label, "url": self.url(group=g.key), "active": g.key == self.group_key, "key": g.key}

    def page_links(self):
        page = self.page
        numbers = sorted({1, page.paginator.num_pages, *range(max(1, page.number - 2), min(page.paginator.num_pages, page.number + 2) + 1)})
        last = 0
        for n in numbers:
            if n - last > 1:
                yield {"gap": True}
            yield {"number": n, "url": self.url(page=n), "current": n == page.number}
            last = n

    def size_links(self):
        for n in self.page_sizes:
            yield {"size": n, "url": self.url(size=n), "current": n == self.size}

    def prev_url(self):
        return self.url(page=self.page.previous_page_number()) if self.page.has_previous() else None

    def next_url(self):
        return self.url(page=self.page.next_page_number()) if self.page.has_next() else None

    def export_url(self, kind: str) -> str:
        return self.url(export=kind)

    def hidden_state(self) -> dict[str, str]:
        """Parameters the search form carries along (everything except the query and the page)."""
        state = self.state()
        state.pop("q", None)
        return state

    # Export ----------------------------------------------------------------
    def export_rows(self):
        columns = [c for c in self.columns if c.export]
        for obj in self.filtered().iterator(chunk_size=1000):
            yield [resolve(obj, c.value) for c in columns]

    def export_headers(self) -> list[str]:
        return [str(c.label) for c in self.columns if c.export]

    def export_response(self):
        kind = self.request.GET.get("export")
        if kind == "csv":
            return csv_response(self.export_name, self.export_headers(), self.export_rows())
        if kind == "pdf":
            subtitle = f"Search: {self.q}" if self.q else ""
            if self.active_filters:
                subtitle = " · ".join(filter(None, [subtitle, ", ".join(f"{k}={v}" for k, v in self.active_filters.items())]))
            return pdf_response(self.export_name, self.title, self.export_headers(), self.export_rows(), subtitle=subtitle)
        return None


def _export_url_property(kind):
    return property(lambda self: self.export_url(kind))


DataTable.export_url_csv = _export_url_property("csv")
DataTable.export_url_pdf = _export_url_property("pdf")
