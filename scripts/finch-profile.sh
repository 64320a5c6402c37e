#!/bin/sh
# Write a Finch (or Pidgin) configuration directory with one Parley account and one buddy.
#
#   finch-profile.sh DIR NAME PORT PASSPHRASE BUDDY_ADDRESS BUDDY_ALIAS [PLUGIN_DIR] [PROTOCOL]
#
# DIR gets accounts.xml, blist.xml, prefs.xml and plugins/ (a copy of the
# built plugins from PLUGIN_DIR, default: ./.libs).  The account signs on
# when Finch starts; the companion plugin "Parley" is enabled.  UPnP and
# NAT-PMP are off, so nothing leaves the machine on its own, and so is
# conversation logging, so no message text is written to disk.
set -eu
dir=$1 name=$2 port=$3 pass=$4 buddy=$5 alias=$6
plugins=${7:-.libs}
protocol=${8:-parley}

xml() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e "s/'/\&apos;/g"; }

mkdir -p "$dir/plugins"
cp "$plugins/libparley.so" "$plugins/parley.so" "$dir/plugins/"
chmod 700 "$dir"

cat > "$dir/accounts.xml" <<XML
<?xml version='1.0' encoding='UTF-8' ?>
<account version='1.0'>
 <account>
  <protocol>prpl-parley</protocol>
  <name>$(xml "$name")</name>
  <password>$(xml "$pass")</password>
  <settings>
   <setting name='port' type='int'>$port</setting>
   <setting name='listen' type='bool'>1</setting>
   <setting name='protocol' type='string'>$protocol</setting>
  </settings>
  <settings ui='gnt-purple'>
   <setting name='auto-login' type='bool'>1</setting>
  </settings>
  <settings ui='gtk-gaim'>
   <setting name='auto-login' type='bool'>1</setting>
  </settings>
 </account>
</account>
XML

cat > "$dir/blist.xml" <<XML
<?xml version='1.0' encoding='UTF-8' ?>
<purple version='1.0'>
 <blist>
  <group name='Parley'>
   <contact>
    <buddy account='$(xml "$name")' proto='prpl-parley'>
     <name>$(xml "$buddy")</name>
     <alias>$(xml "$alias")</alias>
    </buddy>
   </contact>
  </group>
 </blist>
</purple>
XML

cat > "$dir/prefs.xml" <<XML
<?xml version='1.0' encoding='UTF-8' ?>
<pref version='1' name='/'>
 <pref name='purple'>
  <pref name='network'>
   <pref name='map_ports' type='bool' value='0'/>
   <pref name='auto_ip' type='bool' value='0'/>
  </pref>
  <pref name='logging'>
   <pref name='log_ims' type='bool' value='0'/>
   <pref name='log_chats' type='bool' value='0'/>
   <pref name='log_system' type='bool' value='0'/>
  </pref>
 </pref>
 <pref name='finch'>
  <pref name='plugins'>
   <pref name='loaded' type='pathlist'>
    <item value='$(xml "$dir")/plugins/parley.so'/>
   </pref>
  </pref>
 </pref>
 <pref name='pidgin'>
  <pref name='plugins'>
   <pref name='loaded' type='pathlist'>
    <item value='$(xml "$dir")/plugins/parley.so'/>
   </pref>
  </pref>
 </pref>
</pref>
XML
