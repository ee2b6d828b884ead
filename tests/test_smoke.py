from tests.factories import report_body


def test_reporter_submits_a_report_and_reads_it_back(client, reporter):
    response = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers)
    assert response.status_code == 201, response.json
    created = response.json
    assert created["tracking_no"].startswith("QZBG-")
    detail = client.get(f"/api/v1/reports/{created['id']}", headers=reporter.headers)
    assert detail.status_code == 200, detail.json
    assert detail.json["victim"]["name"] == "小花"
