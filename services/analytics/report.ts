/** Campaign reports: one data shape (`CampaignReport`) rendered as JSON, CSV (csv-stringify) or PDF (pdfkit). */
import { stringify } from "csv-stringify/sync";
import PDFDocument from "pdfkit";
import type { Metrics } from "./metrics";

export const REPORT_FORMATS = ["json", "csv", "pdf"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export const CONTENT_TYPES: Record<ReportFormat, string> = {
  json: "application/json; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  pdf: "application/pdf",
};

export type MetricsWithReach = Metrics & { reach?: number };

export interface CampaignReport {
  campaign: { id: string; name: string; type: string | null };
  generatedAt: string;
  summary: MetricsWithReach;
  platforms: Array<MetricsWithReach & { platform: string }>;
  /** Performance over time, one entry per bucket. */
  trend: { unit: "hour" | "day"; buckets: Array<Metrics & { bucket: string }> };
  funnel: { impressions: number; clicks: number; conversions: number; medianSecondsToConvert: number | null };
}

const COLUMNS = ["section", "key", "impressions", "reach", "clicks", "conversions", "revenue", "spent", "ctr", "conversionRate", "roi", "cpa"] as const;

function csvRow(section: string, key: string, m: Partial<MetricsWithReach>): unknown[] {
  return [section, key, m.impressions, m.reach ?? "", m.clicks, m.conversions, m.revenue, m.spent, m.ctr ?? "", m.conversionRate ?? "", m.roi ?? "", m.cpa ?? ""];
}

export function reportCsv(r: CampaignReport): Buffer {
  const rows = [
    [...COLUMNS],
    csvRow("summary", r.campaign.name, r.summary),
    ...r.platforms.map((p) => csvRow("platform", p.platform, p)),
    ...r.trend.buckets.map((b) => csvRow(r.trend.unit, b.bucket, b)),
  ];
  return Buffer.from(stringify(rows));
}

const fmtRatio = (v: number | null) => (v === null ? "n/a" : `${(v * 100).toFixed(2)}%`);
const fmtMoney = (v: number | null) => (v === null ? "n/a" : v.toFixed(2));

/** A PDF with the summary table, the platform table and a chart of impressions/clicks/conversions over time. */
export function reportPdf(r: CampaignReport): Promise<Buffer> {
  const doc = new PDFDocument({ size: "A4", margin: 50, info: { Title: `Campaign report: ${r.campaign.name}` } });
  const chunks: Buffer[] = [];
  doc.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });

  doc.fontSize(20).fillColor("#111").text(`Campaign report: ${r.campaign.name}`);
  doc.fontSize(10).fillColor("#555").text(`Campaign ${r.campaign.id} · ${r.campaign.type ?? ""} · generated ${r.generatedAt}`);
  doc.moveDown();

  const s = r.summary;
  table(doc, ["Metric", "Value"], [
    ["Impressions", String(s.impressions)],
    ["Reach (distinct fans)", String(s.reach ?? "n/a")],
    ["Clicks", String(s.clicks)],
    ["Conversions", String(s.conversions)],
    ["Revenue", fmtMoney(s.revenue)],
    ["Spent", fmtMoney(s.spent)],
    ["CTR", fmtRatio(s.ctr)],
    ["Conversion rate", fmtRatio(s.conversionRate)],
    ["ROI", fmtRatio(s.roi)],
    ["CPA", fmtMoney(s.cpa)],
    ["Median time to convert", r.funnel.medianSecondsToConvert === null ? "n/a" : `${Math.round(r.funnel.medianSecondsToConvert)} s`],
  ]);
  doc.moveDown();
  if (r.platforms.length) {
    table(doc, ["Platform", "Impr.", "Clicks", "Conv.", "Revenue", "ROI"], r.platforms.map((p) => [p.platform, String(p.impressions), String(p.clicks), String(p.conversions), fmtMoney(p.revenue), fmtRatio(p.roi)]));
    doc.moveDown();
  }
  chart(doc, r.trend);
  doc.end();
  return done;
}

function table(doc: PDFKit.PDFDocument, head: string[], rows: string[][]): void {
  const x0 = doc.page.margins.left;
  const width = doc.page.width - doc.page.margins.left - doc.page.margins.right;
  const col = width / head.length;
  const rowH = 18;
  let y = doc.y;
  const line = (cells: string[], bold: boolean, shade: boolean) => {
    if (shade) doc.rect(x0, y, width, rowH).fill("#e8eef7");
    doc.fillColor("#111").font(bold ? "Helvetica-Bold" : "Helvetica").fontSize(10);
    cells.forEach((cell, i) => doc.text(cell, x0 + i * col + 4, y + 4, { width: col - 8, lineBreak: false }));
    doc.moveTo(x0, y + rowH).lineTo(x0 + width, y + rowH).strokeColor("#bbb").lineWidth(0.5).stroke();
    y += rowH;
  };
  line(head, true, true);
  rows.forEach((r) => line(r, false, false));
  doc.x = x0;
  doc.y = y + 4;
}

const SERIES = [
  { key: "impressions", color: "#2563eb" },
  { key: "clicks", color: "#16a34a" },
  { key: "conversions", color: "#dc2626" },
] as const;

/** Line chart, one line per counter, each bucket a point; vector drawing, no chart library needed. */
function chart(doc: PDFKit.PDFDocument, trend: CampaignReport["trend"]): void {
  const x0 = doc.page.margins.left + 30;
  const width = doc.page.width - doc.page.margins.right - x0;
  const height = 200;
  if (doc.y + height + 60 > doc.page.height - doc.page.margins.bottom) doc.addPage();
  doc.font("Helvetica-Bold").fontSize(12).fillColor("#111").text(`Performance over time (per ${trend.unit})`, doc.page.margins.left);
  const top = doc.y + 8;
  const buckets = trend.buckets;
  const max = Math.max(1, ...buckets.flatMap((b) => SERIES.map((s) => b[s.key])));
  doc.rect(x0, top, width, height).strokeColor("#888").lineWidth(1).stroke();
  doc.font("Helvetica").fontSize(8).fillColor("#555").text(String(max), doc.page.margins.left, top - 4, { width: 28, align: "right" });
  doc.text("0", doc.page.margins.left, top + height - 6, { width: 28, align: "right" });
  const px = (i: number) => x0 + (buckets.length <= 1 ? width / 2 : (i / (buckets.length - 1)) * width);
  const py = (v: number) => top + height - (v / max) * height;
  for (const s of SERIES) {
    buckets.forEach((b, i) => (i === 0 ? doc.moveTo(px(i), py(b[s.key])) : doc.lineTo(px(i), py(b[s.key]))));
    if (buckets.length > 1) doc.strokeColor(s.color).lineWidth(2).stroke();
    buckets.forEach((b, i) => doc.circle(px(i), py(b[s.key]), 2.5).fill(s.color));
  }
  if (buckets.length) {
    doc.fillColor("#555").fontSize(8);
    doc.text(buckets[0].bucket.slice(0, 16), x0, top + height + 4, { lineBreak: false });
    doc.text(buckets[buckets.length - 1].bucket.slice(0, 16), x0 + width - 80, top + height + 4, { width: 80, align: "right", lineBreak: false });
  }
  let lx = x0;
  const ly = top + height + 18;
  for (const s of SERIES) {
    doc.rect(lx, ly, 10, 10).fill(s.color);
    doc.fillColor("#111").fontSize(9).text(s.key, lx + 14, ly + 1, { lineBreak: false });
    lx += 90;
  }
}
