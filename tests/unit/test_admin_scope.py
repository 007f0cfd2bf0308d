"""The table browser's school scope: every browsable table is placed in a school or hidden,
and a client's filters on the scoping column are dropped in every form piccolo_api reads."""

from __future__ import annotations

from urllib.parse import parse_qsl

from piccolo.columns import ForeignKey, Serial

from backend.admin.piccolo import (
    BROWSABLE,
    SCHOOL_TABLES,
    _without_scoping_filters,
    route_path,
    school_path,
    scoping_column_name,
)
from backend.schools.tables import (
    AcademicYear,
    Lesson,
    Municipality,
    Region,
    School,
    SchoolClass,
    StudyPeriod,
)


def test_every_browsable_table_is_placed_in_a_school_or_hidden() -> None:
    hidden = {t for t in BROWSABLE if t not in SCHOOL_TABLES}
    assert hidden == {Region, Municipality}
    for table in SCHOOL_TABLES:
        assert isinstance(table._meta.primary_key, Serial), table  # /<pk>/ is digits only
        column = school_path(table)
        assert column is not None
        if table is School:
            assert column._meta.name == "id" and not column._meta.call_chain
            continue
        # The column really points at a school: directly, or through the academic year.
        chain = [*column._meta.call_chain, column]
        assert all(isinstance(c, ForeignKey) for c in chain), table
        assert chain[-1]._foreign_key_meta.resolved_references is School, table
        if chain[0] is not column:
            assert chain[0]._foreign_key_meta.resolved_references is AcademicYear, table
    assert scoping_column_name(School) == "id"
    assert scoping_column_name(SchoolClass) == scoping_column_name(Lesson) == "school"
    assert scoping_column_name(StudyPeriod) is None  # academic_year.school: not a filter


def test_filters_on_the_scoping_column_are_dropped_in_every_form() -> None:
    query = (
        b"school=7&school%5B%5D=8&school[]=9&school__operator=ne&school__match=exact"
        b"&sch%6Fol=10&school[]__operator=gte&__range_header=true&__range_header_name=x"
        b"&grade=5&__order=-id&__page=2&schoolish=1&__readable=true"
    )
    kept = parse_qsl(_without_scoping_filters(query, "school").decode())
    assert kept == [
        ("grade", "5"),
        ("__order", "-id"),
        ("__page", "2"),
        ("schoolish", "1"),
        ("__readable", "true"),
    ]
    kept = parse_qsl(
        _without_scoping_filters(b"id=3&id__operator=gte&id[]=4&name=x", "id").decode()
    )
    assert kept == [("name", "x")]
    # Without a scoping column (joined through the year) only the range header goes.
    assert parse_qsl(
        _without_scoping_filters(b"academic_year=3&__range_header=1", None).decode()
    ) == [("academic_year", "3")]


def test_route_path_is_starlettes() -> None:
    assert route_path({"path": "/api/tables/", "root_path": ""}) == "/api/tables/"
    assert route_path({"path": "/x/api/tables/", "root_path": "/x"}) == "/api/tables/"
    assert route_path({"path": "/xapi/", "root_path": "/x"}) == "/xapi/"
    assert route_path({"path": "/x", "root_path": "/x"}) == ""
