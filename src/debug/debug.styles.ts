/** The debugger's styles, served as /debug/debug.css: system fonts only, so it works offline. */
export const DEBUG_STYLES = `
:root{--fg:#1c2330;--muted:#667085;--line:#e4e7ec;--bg:#f6f7f9;--card:#fff;--accent:#1f5fa8;--ok:#1f7a43;--off:#9a3412;--err:#b42318}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
code,pre,.id-link{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.bar{background:#101828;color:#fff;padding:12px 24px;display:flex;flex-wrap:wrap;gap:12px 24px;align-items:center}
.bar h1{font-size:17px;margin:0;font-weight:600}
.credentials{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:center}
.credentials label{display:flex;gap:6px;align-items:center;color:#d0d5dd}
.credentials input{width:14em}
.hint{color:#98a2b3;font-size:12.5px}
main{max-width:1240px;margin:0 auto;padding:16px 24px 48px}
input,select,button{font:inherit;border:1px solid #d0d5dd;border-radius:6px;padding:6px 10px;background:#fff;color:var(--fg)}
button{background:var(--accent);border-color:var(--accent);color:#fff;cursor:pointer}
button.quiet{background:transparent;border-color:#475467;color:#d0d5dd}
.lookup{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-bottom:12px}
.lookup label{display:flex;gap:6px;align-items:center}
.lookup input{flex:1 1 22em;min-width:0}
#status{min-height:1.5em;margin:4px 0 12px}
#status.error{color:var(--err);background:#fef3f2;border:1px solid #fecdca;border-radius:6px;padding:8px 12px}
#status.busy{color:var(--muted)}
.grid{display:grid;grid-template-columns:minmax(0,1.35fr) minmax(0,1fr);gap:16px;align-items:start}
.col{display:flex;flex-direction:column;gap:16px;min-width:0}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card h2{font-size:14px;margin:0 0 10px;text-transform:uppercase;letter-spacing:.04em;color:#344054;display:flex;gap:8px;align-items:center}
.count{background:var(--bg);border-radius:10px;padding:0 8px;font-size:12px;color:var(--muted)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dt{color:var(--muted)} dd{margin:0;overflow-wrap:anywhere}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:break-word}
th{font-weight:600;color:var(--muted);font-size:12.5px;white-space:nowrap}
td code{overflow-wrap:anywhere}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;background:#eef4ff;color:#3538cd;white-space:nowrap}
.badge.ok{background:#ecfdf3;color:var(--ok)} .badge.off{background:#fff4ed;color:var(--off)}
.src-api{background:#eef4ff;color:#3538cd} .src-sdk{background:#f4f3ff;color:#5925dc} .src-sdk_auto{background:#f2f4f7;color:#475467}
.muted{color:var(--muted)}
.id-link{background:none;border:0;padding:0;color:var(--accent);text-decoration:underline;cursor:pointer;text-align:left;overflow-wrap:anywhere}
ol.events,ol.timeline{list-style:none;margin:0;padding:0}
ol.events li{border-bottom:1px solid var(--line);padding:8px 0}
ol.events pre{margin:6px 0 0;background:var(--bg);border-radius:6px;padding:6px 8px;overflow-x:auto}
.event-head{display:flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline}
.event-head time{color:var(--muted);font-size:12.5px;margin-left:auto}
ol.timeline{position:relative;padding-left:22px}
ol.timeline:before{content:"";position:absolute;left:6px;top:6px;bottom:6px;width:2px;background:var(--line)}
ol.timeline li{position:relative;padding:0 0 14px}
ol.timeline li:before{content:"";position:absolute;left:-21px;top:5px;width:12px;height:12px;border-radius:50%;background:#98a2b3;border:2px solid #fff;box-shadow:0 0 0 1px var(--line)}
ol.timeline .kind{text-transform:capitalize}
ol.timeline li.kind-created:before,ol.timeline li.kind-created_by_custom_id:before{background:#98a2b3}
ol.timeline li.kind-sign_in:before{background:var(--ok)}
ol.timeline li.kind-login:before{background:var(--accent)}
ol.timeline li.kind-logout:before,ol.timeline li.kind-switch_user:before{background:#dc6803}
ol.timeline li.kind-orphaned:before{background:var(--err)}
.meta{display:flex;flex-wrap:wrap;gap:2px 14px;font-size:12.5px;color:#475467}
@media (max-width:900px){.grid{grid-template-columns:minmax(0,1fr)}}
@media (max-width:600px){
  .bar,main{padding-left:12px;padding-right:12px}
  .credentials input{width:100%}.credentials label{flex:1 1 100%;flex-wrap:wrap}
  thead{display:none} table,tbody,tr,td{display:block;width:100%}
  tr{border-bottom:1px solid var(--line);padding:6px 0} td{border:0;padding:2px 0;display:flex;gap:8px}
  td:before{content:attr(data-label);flex:0 0 6.5em;color:var(--muted);font-size:12px}
}
`;
